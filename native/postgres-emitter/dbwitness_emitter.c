/*
 * dbwitness_emitter: the identity trigger function in C.
 *
 * The same message as the PL/pgSQL emitter (adapters/postgres/identity-sql.ts)
 * at a fraction of the cost on the source: a statement trigger that, once per
 * (transaction, session user, active role), writes a transactional logical
 * message with prefix 'dbwitness' holding the session's identity as a
 * PostgreSQL text array, version 3:
 *
 *   {3,<session_user>,<role setting>,<dbwitness.app_user>,<client addr>,
 *    <client port>,<application_name>,<backend pid>,<session id %c>[,<login>]}
 *
 * <login>, only while it differs from the session user, is the user the
 * backend authenticated as: a superuser's SET SESSION AUTHORIZATION changes
 * the session user, not the login.
 *
 * Version 3 differs from version 2 only in the session id: it is read from
 * the backend itself on every emission, so it needs no signature.
 *
 * Why it cannot be forged: the function takes no arguments and reads every
 * field from the backend; it refuses to run except as a trigger (checked
 * below); creating a C function needs a superuser; and
 * pg_logical_emit_message, the only other way to write a 'dbwitness'
 * message, is revoked from PUBLIC by setup (the PL/pgSQL emitter writes
 * only version 2).
 *
 * "Already written": the message is written inside the current
 * (sub)transaction, so a rolled-back savepoint takes it away, exactly as it
 * reverts the PL/pgSQL emitter's transaction-local setting. The subxact
 * callback below mirrors that: a committed subtransaction hands the message
 * to its parent, an aborted one forgets it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inet.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(dbwitness_emit_identity);

/* What the last message was written for; valid only while `emitted`. */
static bool emitted = false;
static FullTransactionId emitted_top;
static SubTransactionId emitted_sub;
static Oid emitted_session_user;
static char emitted_role[NAMEDATALEN + 1];
static bool callbacks_registered = false;

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	if (!emitted || mySubid != emitted_sub)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		emitted = false;		/* the message went with the subtransaction */
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		emitted_sub = parentSubid;	/* the parent now holds it */
}

static void
xact_callback(XactEvent event, void *arg)
{
	/* A new transaction has a new id anyway; this only keeps the state tidy. */
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		emitted = false;
}

/* One array element as array_out writes it: NULL bare, else quoted when needed. */
static void
append_element(StringInfo buf, const char *value)
{
	bool		quote = false;
	const char *p;

	if (value == NULL)
	{
		appendStringInfoString(buf, "NULL");
		return;
	}
	if (value[0] == '\0' || pg_strcasecmp(value, "NULL") == 0)
		quote = true;
	for (p = value; *p && !quote; p++)
	{
		char		c = *p;

		if (c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' ||
			c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			quote = true;
	}
	if (!quote)
	{
		appendStringInfoString(buf, value);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (p = value; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

Datum
dbwitness_emit_identity(PG_FUNCTION_ARGS)
{
	const char *role;
	Oid			session_user;
	FullTransactionId top;
	StringInfoData buf;
	char	   *addr = NULL;
	char		port[16];
	int32		port_number;
	bool		have_port = false;
	char		number[32];
	const char *app_user;
	const char *utf8;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dbwitness emit_identity() must be called as a trigger")));

	/* As current_setting('role') gives it: through the show hook, "none" without SET ROLE. */
	role = GetConfigOptionByName("role", NULL, false);
	session_user = GetSessionUserId();
	/* Assigns the transaction id now if needed; the audited statement would anyway. */
	(void) GetCurrentTransactionId();
	top = GetTopFullTransactionId();
	if (emitted && FullTransactionIdEquals(top, emitted_top) &&
		session_user == emitted_session_user && strcmp(role, emitted_role) == 0)
		PG_RETURN_POINTER(NULL);

	if (!callbacks_registered)
	{
		RegisterSubXactCallback(subxact_callback, NULL);
		RegisterXactCallback(xact_callback, NULL);
		callbacks_registered = true;
	}

	/*
	 * Client address and port from the same functions the PL/pgSQL emitter
	 * calls (host(inet_client_addr()), inet_client_port()): NULL over a Unix
	 * socket. Called directly rather than through libpq-be.h, whose GSSAPI
	 * include would make every build need Kerberos headers.
	 */
	{
		LOCAL_FCINFO(call, 0);
		Datum		inet;

		InitFunctionCallInfoData(*call, NULL, 0, InvalidOid, NULL, NULL);
		inet = inet_client_addr(call);
		if (!call->isnull)
		{
			addr = TextDatumGetCString(DirectFunctionCall1(network_host, inet));
			InitFunctionCallInfoData(*call, NULL, 0, InvalidOid, NULL, NULL);
			port_number = DatumGetInt32(inet_client_port(call));
			if (!call->isnull)
			{
				snprintf(port, sizeof(port), "%d", port_number);
				have_port = true;
			}
		}
	}

	app_user = GetConfigOptionByName("dbwitness.app_user", NULL, true);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{3,");
	append_element(&buf, GetUserNameFromId(session_user, false));
	appendStringInfoChar(&buf, ',');
	append_element(&buf, role);
	appendStringInfoChar(&buf, ',');
	append_element(&buf, app_user);
	appendStringInfoChar(&buf, ',');
	append_element(&buf, addr);
	appendStringInfoChar(&buf, ',');
	append_element(&buf, have_port ? port : NULL);
	appendStringInfoChar(&buf, ',');
	append_element(&buf, GetConfigOption("application_name", false, false));
	appendStringInfoChar(&buf, ',');
	snprintf(number, sizeof(number), "%d", MyProcPid);
	append_element(&buf, number);
	appendStringInfoChar(&buf, ',');
	/* The log session id %c: hex(backend start, seconds) '.' hex(pid). */
	snprintf(number, sizeof(number), "%lx.%x", (long) MyStartTime, MyProcPid);
	append_element(&buf, number);
	if (GetAuthenticatedUserId() != session_user)
	{
		appendStringInfoChar(&buf, ',');
		append_element(&buf, GetUserNameFromId(GetAuthenticatedUserId(), false));
	}
	appendStringInfoChar(&buf, '}');

	/* pgoutput sends a message's bytes as written: always UTF-8, as the PL/pgSQL emitter's convert_to. */
	utf8 = pg_server_to_any(buf.data, buf.len, PG_UTF8);
#if PG_VERSION_NUM >= 170000
	LogLogicalMessage("dbwitness", utf8, strlen(utf8), true, false);
#else
	LogLogicalMessage("dbwitness", utf8, strlen(utf8), true);
#endif

	emitted = true;
	emitted_top = top;
	emitted_sub = GetCurrentSubTransactionId();
	emitted_session_user = session_user;
	snprintf(emitted_role, sizeof(emitted_role), "%s", role);
	PG_RETURN_POINTER(NULL);
}

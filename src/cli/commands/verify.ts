/**
 * `dbwitness verify DIR`: offline check of every chain and seal, including
 * segments retention moved to an archive or deleted under the policy.
 * Exit 0 intact, 1 tampered, 2 usage or environment error, 3 (only with
 * --strict-archive) nothing wrong found but archived segments not checked.
 */
import type { Command } from 'commander';
import { periodMs, RetentionConfig } from '../../config/config-schema.js';
import { usageError } from '../../core/errors.js';
import { loadEncryptionKey } from '../../store/encryption.js';
import { parseExpectHeads, verifyStore } from '../../store/verify-store.js';
import { formatVerifyReport, verifyReportJson } from '../../store/verify-format.js';
import { progressMeter } from '../../store/verify-progress.js';
import { checkAnchors } from '../../anchor/check-anchors.js';
import { formatAnchorFindings } from '../../anchor/format-anchor-findings.js';
import { loadPublicKey } from '../../store/keys.js';

interface VerifyFlags {
  publicKey?: string;
  json?: boolean;
  encryptionKeyFile?: string;
  maxIssues?: string;
  progress?: boolean;
  anchors?: string;
  expectHead?: string[];
  archive?: string[];
  strictArchive?: boolean;
  retentionKeep: string;
}

/** Nothing wrong was found, but archived segments could not be read (with --strict-archive). */
const EXIT_INCOMPLETE = 3;

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('Check every hash chain and seal of a store, offline; exit 1 on any modification, deletion, insertion, reordering or truncation')
    .argument('<dir>', 'store directory')
    .option('--public-key <file>', 'trusted Ed25519 public key (PEM); default: the copy stored with the data, with a warning')
    .option('--encryption-key-file <file>', 'AES-256 key of an encrypted store (or set DBWITNESS_ENCRYPTION_KEY)')
    .option('--json', 'machine-readable report on stdout')
    .option('--max-issues <n>', 'problems listed per source (all are counted)', '20')
    .option('--expect-head <source:seq:hash>', 'a head recorded from an earlier verify: fail if it is gone or changed (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--archive <dir>', 'where archived segments are now (DIR/<source>/seg-N.jsonl), tried before the paths recorded in archived.jsonl (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--strict-archive', `exit ${EXIT_INCOMPLETE} when an archived segment cannot be read, instead of 0 with a warning`)
    .option('--retention-keep <period>', "accept a segment recorded as deleted by retention only if its seal is at least this old (the store's retention.keep)", '6y')
    .option('--no-progress', 'no progress bar on a terminal')
    .option('--anchors <file>', 'also check chain heads published by the daemon (anchors.file): detects events cut from the end')
    .addHelpText(
      'after',
      `
What verify proves: every event line is unchanged and in place (hash chain),
every sealed segment is complete and unchanged (signed digest), and signed
heads match the chain. What it cannot prove from the files alone: that
events were not cut from the end of the newest, unsealed segment. Record the
head it prints (seq and hash) outside the store and pass it next time with
--expect-head SOURCE:SEQ:HASH.

Segments moved by \`dbwitness retention --archive\` are listed in
<store>/<source>/archived.jsonl. Each is read from --archive DIR or the
recorded path and checked like a local segment. One that cannot be read is
reported as "archived, not checked": its seal (copied into the manifest)
must still join the chain around it, which proves it existed, not that a
copy survives. That is a warning (exit 0) unless --strict-archive is given.
A segment missing from the store and absent from the manifest is tampering.

Segments \`dbwitness retention --delete-expired\` deleted are recorded there
too, with a copy of their signed seal. Such a segment is reported as
"deleted under the retention policy", which does not count as not checked
(nor for --strict-archive), only when its seal's signature verifies with the
trusted key, the seal joins the chain on both sides, and the seal's signed
sealed_at is at least --retention-keep before now (a period like 6y or
2192d; default 6y, the default of retention.keep: set it to the store's).
Why the age check: without it, anyone able to write the store could delete
recent evidence, keep its seal and write a manifest line, and verify would
take that for retention. Within the period the policy forbids the deletion,
so verify reports such a segment as not checked, with the reason (and a seal
that does not verify as tampering).

Exit codes: 0 intact, 1 tampering found, 2 usage or environment error,
3 nothing wrong found but archived segments were not checked, or recorded
deletions were not accepted (--strict-archive).`,
    )
    .action(async (dir: string, flags: VerifyFlags) => {
      const maxIssues = Number(flags.maxIssues ?? '20');
      if (!Number.isInteger(maxIssues) || maxIssues < 1) throw usageError('E_VERIFY_MAX_ISSUES', `--max-issues must be a positive integer, got ${flags.maxIssues}`, 'pass e.g. --max-issues 50');
      const encryptionKey = await loadEncryptionKey(flags.encryptionKeyFile);
      const expectHeads = flags.expectHead === undefined ? undefined : parseExpectHeads(flags.expectHead);
      const retentionKeepMs = parseRetentionKeep(flags.retentionKeep);
      const meter = flags.progress !== false && process.stderr.isTTY === true && flags.json !== true ? progressMeter(process.stderr) : null;
      let report;
      try {
        report = await verifyStore(dir, {
          maxIssues,
          retentionKeepMs,
          ...(flags.publicKey === undefined ? {} : { publicKeyFile: flags.publicKey }),
          ...(encryptionKey === undefined ? {} : { encryptionKey }),
          ...(expectHeads === undefined ? {} : { expectHeads }),
          ...(flags.archive === undefined ? {} : { archiveDirs: flags.archive }),
          ...(meter === null ? {} : { onTotal: meter.total, onBytes: meter.add }),
        });
      } finally {
        meter?.done();
      }
      const anchors =
        flags.anchors === undefined
          ? null
          : await checkAnchors(dir, flags.anchors, {
              retentionKeepMs,
              ...(flags.publicKey === undefined ? {} : { publicKey: await loadPublicKey(flags.publicKey) }),
              ...(encryptionKey === undefined ? {} : { encryptionKey }),
              ...(flags.archive === undefined ? {} : { archiveDirs: flags.archive }),
            });
      const json = anchors === null ? verifyReportJson(report) : { ...(verifyReportJson(report) as Record<string, unknown>), anchors };
      process.stdout.write(flags.json === true ? JSON.stringify(json, null, 2) + '\n' : formatVerifyReport(report, flags.strictArchive === true) + (anchors === null ? '' : formatAnchorFindings(anchors)));
      const intact = report.ok && !(anchors ?? []).some((f) => f.status === 'fail');
      process.exitCode = !intact ? 1 : !report.complete && flags.strictArchive === true ? EXIT_INCOMPLETE : 0;
    });
}

/** The same syntax as retention.keep in the config file, so the value can be copied from it. */
function parseRetentionKeep(value: string): number {
  const parsed = RetentionConfig.shape.keep.safeParse(value);
  const ms = parsed.success ? periodMs(parsed.data) : 0;
  if (!(ms > 0)) throw usageError('E_VERIFY_RETENTION_KEEP', `--retention-keep expects a retention period like 6y or 2192d, got ${JSON.stringify(value.slice(0, 40))}`, "pass the store's retention.keep (a number followed by y, d, h, m, s or ms), or leave it out for 6y");
  return ms;
}

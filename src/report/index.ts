/** Reviewer reports over the query index. */
export { ReportsConfig, WorkingHours, WEEKDAYS, assertTimeZone, clockMinutes, type Weekday } from './config.js';
export { ZoneClock, parseBound, parseRange, rangeSql, type TimeRange, type LocalTime } from './time.js';
export { ACTIVITY_COLUMNS, activityRow, type Report, type ReportSection, type ReportColumn, type ReportRow, type Cell } from './model.js';
export { patientReport, userReport, unattributedReport, ddlReport, type ReportContext } from './listings.js';
export { afterHoursReport, bulkReport, summaryReport, type ChainStatusRow } from './analysis.js';
export { renderReport, safeText, REPORT_FORMATS, type ReportFormat } from './format.js';
export { renderHtml, escapeHtml } from './format-html.js';
export { missingEvents, missingLines, withMissingEvents, type MissingEvents, type MissingSegment } from './archive-gaps.js';

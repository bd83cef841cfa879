// Lighthouse runs for tests/quality.py, in one Node process and one Chromium: starting both for every run cost
// ~6 s of a ~20 s run on the 2-core reference machine, and the suite makes three runs per page and form factor.
// Lighthouse clears the origin's cache and storage before each run, so every load is a first visit.
//
// Usage: node lighthouse_runs.mjs JOBS.json, where JOBS.json is
//   {"chromium": path, "flags": [Chromium flags], "runs": [{"url", "desktop", "categories", "report"}, ...]}
// Each run's JSON report is written to its "report" path; a run that fails is reported on stderr and the
// process exits non-zero after the others.
import fs from 'node:fs';
import * as chromeLauncher from 'chrome-launcher';
import lighthouse, {desktopConfig} from 'lighthouse';

const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const chrome = await chromeLauncher.launch({chromePath: jobs.chromium, chromeFlags: jobs.flags});
let failed = 0;
try {
  for (const run of jobs.runs) {
    try {
      const result = await lighthouse(run.url, {
        port: chrome.port,
        output: 'json',
        logLevel: 'error',
        onlyCategories: run.categories,
        maxWaitForLoad: 60000,
        // Not scored: a second navigation (back/forward cache) and a screenshot of the whole page.
        skipAudits: ['bf-cache'],
        disableFullPageScreenshot: true,
      }, run.desktop ? desktopConfig : undefined);
      fs.writeFileSync(run.report, result.report);
    } catch (error) {
      failed += 1;
      console.error(`lighthouse failed on ${run.url}: ${error && error.stack || error}`);
    }
  }
} finally {
  await chrome.kill();
}
process.exit(failed ? 1 : 0);

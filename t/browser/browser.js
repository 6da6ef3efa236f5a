// Headless Chromium (Debian's chromium, driven by playwright-core),
// launched once for every browser test of t/browser.t.  Prints "ready"
// once it runs, then reads one job a line on stdin, "NAME ARG...", and
// runs NAME.js's job in a new page: what the job prints, then, once the
// page is closed, "done " and the job's result as JSON, or "failed
// REASON".  Ends, closing Chromium, at the end of its input.
//   node browser.js
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const jobs = {
    'demo-page': require('./demo-page'),
    'sse-browser': require('./sse-browser'),
};

(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kgw-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });

    try {
        console.log('ready');

        const input = readline.createInterface({ input: process.stdin });

        for await (const line of input) {
            const [name, ...args] = line.trim().split(/\s+/);
            const page = await ctx.newPage();
            let res;

            // "done" only once the page is closed: its connections too
            try {
                if (!jobs[name]) {
                    throw new Error(`no job ${name}`);
                }
                res = 'done ' + JSON.stringify(await jobs[name](page, args));

            } catch (e) {
                res = 'failed ' + e.message.split('\n')[0];

            } finally {
                await page.close();
            }

            console.log(res);
        }

    } finally {
        await ctx.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
})().catch((e) => {
    console.log('failed ' + e.message.split('\n')[0]);
    process.exit(1);
});

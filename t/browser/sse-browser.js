// Drives headless Chromium on a page with an EventSource; prints
// "state opens=N got=M" lines while it runs and, at the end,
// "done {"opens":N,"got":[...]}".
//   node sse-browser.js URL EXPECTED TIMEOUT_MS
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, expected, timeout] = process.argv.slice(2);

(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });

    try {
        const page = await ctx.newPage();
        await page.goto(url);

        const end = Date.now() + Number(timeout);
        let st;

        for (;;) {
            st = await page.evaluate(() => ({
                opens: window.opens, got: window.got.length,
                errors: window.errors }));
            console.log(`state opens=${st.opens} got=${st.got} `
                        + `errors=${st.errors}`);
            if (st.got >= Number(expected) || Date.now() > end) {
                break;
            }
            await new Promise((r) => setTimeout(r, 200));
        }

        await new Promise((r) => setTimeout(r, 500));
        const res = await page.evaluate(() => ({ opens: window.opens,
                                                 got: window.got }));
        console.log('done ' + JSON.stringify(res));

    } finally {
        await ctx.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
})().catch((e) => {
    console.log('failed ' + e.message.split('\n')[0]);
    process.exit(1);
});

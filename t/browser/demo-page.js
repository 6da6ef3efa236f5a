// Opens a page in headless Chromium and waits until the text of one
// element contains every one of the comma-separated strings; prints
// "done {"text":...,"ok":true|false}".
//   node demo-page.js URL SELECTOR EXPECTED[,EXPECTED...] TIMEOUT_MS
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [url, selector, expected, timeout] = process.argv.slice(2);
const wanted = expected.split(',');
const found = (text) => wanted.every((w) => text.includes(w));

(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-chromium-'));
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
        let text = '';

        while (Date.now() < end) {
            text = await page.textContent(selector);
            if (found(text)) {
                break;
            }
            await new Promise((r) => setTimeout(r, 200));
        }

        console.log('done ' + JSON.stringify({
            text, ok: found(text) }));

    } finally {
        await ctx.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
})().catch((e) => {
    console.log('failed ' + e.message.split('\n')[0]);
    process.exit(1);
});

// The demo page (a browser.js job): opens the page and waits until the
// text of one element contains every one of the comma-separated strings;
// its result: {"text":...,"ok":true|false}.
//   demo-page URL SELECTOR EXPECTED[,EXPECTED...] TIMEOUT_MS
'use strict';

module.exports = async (page, [url, selector, expected, timeout]) => {
    const wanted = expected.split(',');
    const found = (text) => wanted.every((w) => text.includes(w));

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

    return { text, ok: found(text) };
};

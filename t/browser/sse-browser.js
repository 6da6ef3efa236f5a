// A page with an EventSource (a browser.js job): prints "state opens=N
// got=M errors=E" lines while it runs; once it got EXPECTED events or
// after TIMEOUT_MS, its result: {"opens":N,"got":[...]}.
//   sse-browser URL EXPECTED TIMEOUT_MS
'use strict';

module.exports = async (page, [url, expected, timeout]) => {
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
    return page.evaluate(() => ({ opens: window.opens, got: window.got }));
};

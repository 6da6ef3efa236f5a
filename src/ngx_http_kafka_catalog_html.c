
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_catalog.h"


/*
 * The catalog as a page for people (Accept: text/html), rendered from the
 * AsyncAPI document of the same request, so it shows exactly what the
 * caller may use: a section per channel (topic) with its operations' URLs,
 * a copyable curl line for each, the value's schema and, for a stream, a
 * "Watch live" button that opens it with EventSource and shows the last
 * events.  The page is self-contained (inline style and script, no
 * fonts, nothing fetched but the streams, same-origin); every text from
 * the document or the configuration is HTML-escaped, and the script reads
 * only data-* attributes, never text spliced into code.
 */


#define NGX_HTTP_KAFKA_CATALOG_HTML_LAST  20


typedef struct {
    ngx_array_t                        buf;       /* u_char */
    ngx_uint_t                         failed;
} ngx_http_kafka_catalog_page_t;


static void ngx_http_kafka_catalog_section(ngx_http_kafka_catalog_page_t *pg,
    json_t *doc, const char *topic, json_t *channel);
static void ngx_http_kafka_catalog_produce_html(
    ngx_http_kafka_catalog_page_t *pg, json_t *op);
static void ngx_http_kafka_catalog_consume_html(
    ngx_http_kafka_catalog_page_t *pg, json_t *op);
static void ngx_http_kafka_catalog_raw(ngx_http_kafka_catalog_page_t *pg,
    const char *s);
static void ngx_http_kafka_catalog_esc(ngx_http_kafka_catalog_page_t *pg,
    const char *s);
static void ngx_http_kafka_catalog_json(ngx_http_kafka_catalog_page_t *pg,
    json_t *v);


static const char  ngx_http_kafka_catalog_head[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<style>\n"
"body{font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",sans-serif;"
"margin:0;background:#f5f6f8;color:#1d2330}\n"
"header{background:#1d2330;color:#fff;padding:24px 32px}\n"
"header h1{margin:0 0 4px;font-size:26px}\n"
"header p{margin:4px 0;color:#c9cfdb}\n"
"header a{color:#9cc3ff}\n"
"main{max-width:1000px;margin:0 auto;padding:16px 32px 48px}\n"
"section{background:#fff;border:1px solid #dde1e8;border-radius:8px;"
"margin:20px 0;padding:4px 24px 16px}\n"
"h2{font-size:20px;margin:16px 0 8px;font-family:ui-monospace,monospace}\n"
"h3{font-size:15px;margin:16px 0 6px}\n"
".tag{display:inline-block;font-size:12px;border-radius:4px;"
"padding:0 6px;margin-left:6px;vertical-align:1px}\n"
".send{background:#e3f1e6;color:#1f6b33}\n"
".receive{background:#e4ecfb;color:#1f4c9b}\n"
".lock{background:#fcefd9;color:#8a5400}\n"
"code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;"
"font-size:13px}\n"
".url{word-break:break-all}\n"
".cmd{display:flex;gap:8px;align-items:flex-start}\n"
".cmd pre{flex:1;margin:0;background:#1d2330;color:#e8ecf3;"
"padding:8px 12px;border-radius:6px;white-space:pre-wrap;"
"word-break:break-all}\n"
"button{font:inherit;font-size:13px;border:1px solid #b8c0cc;"
"background:#fff;border-radius:6px;padding:4px 12px;cursor:pointer}\n"
"button.watch{margin-top:10px;background:#1f4c9b;color:#fff;"
"border-color:#1f4c9b}\n"
".state{margin-left:8px;color:#5b6475;font-size:13px}\n"
"ol.events{margin:8px 0 0;padding:0;list-style:none;max-height:320px;"
"overflow:auto}\n"
"ol.events li{border-top:1px solid #eef0f4;padding:4px 0;"
"font-family:ui-monospace,monospace;font-size:13px;"
"word-break:break-all}\n"
"ol.events .id{color:#8a93a3;margin-right:8px}\n"
"details pre{background:#f5f6f8;padding:8px 12px;border-radius:6px;"
"overflow:auto}\n"
".muted{color:#5b6475}\n"
"</style>\n";


static const char  ngx_http_kafka_catalog_script[] =
"<script>\n"
"'use strict';\n"
"for (const b of document.querySelectorAll('button.copy')) {\n"
"  b.addEventListener('click', () => {\n"
"    const pre = b.previousElementSibling;\n"
"    const done = () => { b.textContent = 'Copied';\n"
"      setTimeout(() => { b.textContent = 'Copy'; }, 1500); };\n"
"    const select = () => { const r = document.createRange();\n"
"      r.selectNodeContents(pre); const s = getSelection();\n"
"      s.removeAllRanges(); s.addRange(r); };\n"
"    if (navigator.clipboard) {\n"
"      navigator.clipboard.writeText(pre.textContent).then(done, select);\n"
"    } else { select(); }\n"
"  });\n"
"}\n"
"for (const b of document.querySelectorAll('button.watch')) {\n"
"  const box = b.parentNode;\n"
"  const list = box.querySelector('ol.events');\n"
"  const state = box.querySelector('.state');\n"
"  let es = null;\n"
"  b.addEventListener('click', () => {\n"
"    if (es) { es.close(); es = null; b.textContent = 'Watch live';\n"
"      state.textContent = 'stopped'; return; }\n"
"    es = new EventSource(b.dataset.url);\n"
"    b.textContent = 'Stop';\n"
"    state.textContent = 'connecting';\n"
"    es.onopen = () => { state.textContent = 'live'; };\n"
"    es.onerror = () => { state.textContent = es && es.readyState === 2\n"
"      ? 'closed' : 'reconnecting'; };\n"
"    es.addEventListener(b.dataset.event, (e) => {\n"
"      const li = document.createElement('li');\n"
"      const id = document.createElement('span');\n"
"      id.className = 'id'; id.textContent = e.lastEventId;\n"
"      const data = document.createElement('span');\n"
"      data.className = 'data'; data.textContent = e.data;\n"
"      li.append(id, data); list.prepend(li);\n"
"      while (list.children.length > Number(b.dataset.last)) {\n"
"        list.lastChild.remove(); }\n"
"    });\n"
"  });\n"
"}\n"
"</script>\n";


ngx_int_t
ngx_http_kafka_catalog_html(ngx_http_request_t *r, json_t *doc,
    ngx_str_t *out)
{
    json_t                         *info, *channels, *ch, *v;
    const char                     *topic;
    ngx_http_kafka_catalog_page_t   pg;

    if (ngx_array_init(&pg.buf, r->pool, 16384, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    pg.failed = 0;

    info = json_object_get(doc, "info");

    ngx_http_kafka_catalog_raw(&pg, ngx_http_kafka_catalog_head);
    ngx_http_kafka_catalog_raw(&pg, "<title>");
    ngx_http_kafka_catalog_esc(&pg,
                      json_string_value(json_object_get(info, "title")));
    ngx_http_kafka_catalog_raw(&pg, "</title>\n</head>\n<body>\n<header>\n"
                               "<h1>");
    ngx_http_kafka_catalog_esc(&pg,
                      json_string_value(json_object_get(info, "title")));
    ngx_http_kafka_catalog_raw(&pg, "</h1>\n<p>Version ");
    ngx_http_kafka_catalog_esc(&pg,
                      json_string_value(json_object_get(info, "version")));
    ngx_http_kafka_catalog_raw(&pg, " &middot; <a href=\"?format=json\">"
                               "AsyncAPI 3.0 document</a></p>\n");

    v = json_object_get(info, "description");

    if (v) {
        ngx_http_kafka_catalog_raw(&pg, "<p class=\"description\">");
        ngx_http_kafka_catalog_esc(&pg, json_string_value(v));
        ngx_http_kafka_catalog_raw(&pg, "</p>\n");
    }

    ngx_http_kafka_catalog_raw(&pg, "</header>\n<main>\n");

    channels = json_object_get(doc, "channels");

    if (json_object_size(channels) == 0) {
        ngx_http_kafka_catalog_raw(&pg, "<p class=\"muted\">No event "
                                   "products are available to you "
                                   "here.</p>\n");
    }

    json_object_foreach(channels, topic, ch) {
        ngx_http_kafka_catalog_section(&pg, doc, topic, ch);
    }

    ngx_http_kafka_catalog_raw(&pg, "</main>\n");
    ngx_http_kafka_catalog_raw(&pg, ngx_http_kafka_catalog_script);
    ngx_http_kafka_catalog_raw(&pg, "</body>\n</html>\n");

    if (pg.failed) {
        return NGX_ERROR;
    }

    out->data = pg.buf.elts;
    out->len = pg.buf.nelts;

    return NGX_OK;
}


static void
ngx_http_kafka_catalog_section(ngx_http_kafka_catalog_page_t *pg,
    json_t *doc, const char *topic, json_t *channel)
{
    json_t      *ops, *op, *messages, *m;
    const char  *id, *ref, *action;

    ngx_http_kafka_catalog_raw(pg, "<section class=\"product\" data-topic=\"");
    ngx_http_kafka_catalog_esc(pg, topic);
    ngx_http_kafka_catalog_raw(pg, "\">\n<h2>");
    ngx_http_kafka_catalog_esc(pg, topic);
    ngx_http_kafka_catalog_raw(pg, "</h2>\n");

    ops = json_object_get(doc, "operations");

    json_object_foreach(ops, id, op) {
        ref = json_string_value(json_object_get(json_object_get(op,
                                                      "channel"), "$ref"));

        if (ref == NULL
            || ngx_strncmp(ref, "#/channels/", sizeof("#/channels/") - 1)
               != 0
            || ngx_strcmp(ref + sizeof("#/channels/") - 1, topic) != 0)
        {
            continue;
        }

        action = json_string_value(json_object_get(op, "action"));

        if (action && ngx_strcmp(action, "send") == 0) {
            ngx_http_kafka_catalog_produce_html(pg, op);

        } else {
            ngx_http_kafka_catalog_consume_html(pg, op);
        }
    }

    /* the value's schema: of the raw record, else of an event's data */

    messages = json_object_get(channel, "messages");
    m = json_object_get(messages, "record");

    if (m == NULL) {
        m = json_object_get(messages, "event");
    }

    if (m == NULL) {
        m = json_object_get(messages, "eventJson");
    }

    if (m) {
        ngx_http_kafka_catalog_raw(pg, "<details><summary>Schema of "
                                   "the record's value</summary>\n<pre "
                                   "class=\"schema\">");
        ngx_http_kafka_catalog_json(pg, json_object_get(m, "payload"));
        ngx_http_kafka_catalog_raw(pg, "</pre></details>\n");
    }

    ngx_http_kafka_catalog_raw(pg, "</section>\n");
}


static void
ngx_http_kafka_catalog_produce_html(ngx_http_kafka_catalog_page_t *pg,
    json_t *op)
{
    json_t  *x;

    x = json_object_get(op, "x-gateway");

    ngx_http_kafka_catalog_raw(pg, "<div class=\"op\">\n<h3>Produce"
                               "<span class=\"tag send\">send</span>");

    if (json_object_get(op, "security")) {
        ngx_http_kafka_catalog_raw(pg, "<span class=\"tag lock\">JWT"
                                   "</span>");
    }

    ngx_http_kafka_catalog_raw(pg, "</h3>\n<p><code>POST</code> <code "
                               "class=\"url\">");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "url")));
    ngx_http_kafka_catalog_raw(pg, "</code></p>\n<p class=\"muted\">The "
                               "body is the record's value, or records in "
                               "a REST Proxy v2 envelope "
                               "(<code>application/vnd.kafka.json.v2+json"
                               "</code>, <code>application/vnd.kafka."
                               "binary.v2+json</code>).</p>\n"
                               "<div class=\"cmd\"><pre>curl -X POST '");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "url")));
    ngx_http_kafka_catalog_raw(pg, "'");

    if (json_object_get(op, "security")) {
        ngx_http_kafka_catalog_raw(pg, " -H \"Authorization: Bearer "
                                   "$TOKEN\"");
    }

    ngx_http_kafka_catalog_raw(pg, " -H 'Content-Type: application/vnd."
                               "kafka.json.v2+json' -d '{&quot;records"
                               "&quot;:[{&quot;value&quot;:{}}]}'</pre>"
                               "<button class=\"copy\" type=\"button\">"
                               "Copy</button></div>\n</div>\n");
}


static void
ngx_http_kafka_catalog_consume_html(ngx_http_kafka_catalog_page_t *pg,
    json_t *op)
{
    u_char   last[NGX_INT_T_LEN + 1];
    json_t  *x;

    x = json_object_get(op, "x-gateway");

    ngx_http_kafka_catalog_raw(pg, "<div class=\"op stream\">\n<h3>Stream"
                               "<span class=\"tag receive\">receive"
                               "</span>");

    if (json_object_get(op, "security")) {
        ngx_http_kafka_catalog_raw(pg, "<span class=\"tag lock\">JWT"
                                   "</span>");
    }

    ngx_http_kafka_catalog_raw(pg, "</h3>\n<p><code>GET</code> <code "
                               "class=\"url\">");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "url")));
    ngx_http_kafka_catalog_raw(pg, "</code></p>\n<p class=\"muted\">"
                               "Server-Sent Events named <code>");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "event")));
    ngx_http_kafka_catalog_raw(pg, "</code>, data in the <code>");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "format")));
    ngx_http_kafka_catalog_raw(pg, "</code> format, starting at the <code>");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "start")));
    ngx_http_kafka_catalog_raw(pg, "</code> record; a reconnect resumes "
                               "after the last event id "
                               "(<code>Last-Event-ID</code> or "
                               "<code>?last_event_id=</code>); "
                               "<code>?since=</code> starts at a time."
                               "</p>\n<div class=\"cmd\"><pre>curl -N '");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "url")));
    ngx_http_kafka_catalog_raw(pg, "'");

    if (json_object_get(op, "security")) {
        ngx_http_kafka_catalog_raw(pg, " -H \"Authorization: Bearer "
                                   "$TOKEN\"");
    }

    ngx_http_kafka_catalog_raw(pg, "</pre><button class=\"copy\" "
                               "type=\"button\">Copy</button></div>\n"
                               "<button class=\"watch\" type=\"button\" "
                               "data-url=\"");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "path")));
    ngx_http_kafka_catalog_raw(pg, "\" data-event=\"");
    ngx_http_kafka_catalog_esc(pg,
                          json_string_value(json_object_get(x, "event")));

    *ngx_sprintf(last, "%ui", (ngx_uint_t) NGX_HTTP_KAFKA_CATALOG_HTML_LAST)
        = '\0';

    ngx_http_kafka_catalog_raw(pg, "\" data-last=\"");
    ngx_http_kafka_catalog_raw(pg, (char *) last);
    ngx_http_kafka_catalog_raw(pg, "\">Watch live</button><span "
                               "class=\"state\"></span>\n<ol "
                               "class=\"events\"></ol>\n</div>\n");
}


static void
ngx_http_kafka_catalog_raw(ngx_http_kafka_catalog_page_t *pg, const char *s)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(s);

    if (len == 0) {
        return;
    }

    p = ngx_array_push_n(&pg->buf, len);
    if (p == NULL) {
        pg->failed = 1;
        return;
    }

    ngx_memcpy(p, s, len);
}


/* text and attribute values alike: & < > " ' escaped */

static void
ngx_http_kafka_catalog_esc(ngx_http_kafka_catalog_page_t *pg, const char *s)
{
    u_char      *p;
    size_t       len;
    const char  *c;

    if (s == NULL) {
        return;
    }

    len = 0;

    for (c = s; *c; c++) {
        switch (*c) {
        case '&':
            len += sizeof("&amp;") - 1;
            break;
        case '<':
        case '>':
            len += sizeof("&lt;") - 1;
            break;
        case '"':
            len += sizeof("&quot;") - 1;
            break;
        case '\'':
            len += sizeof("&#39;") - 1;
            break;
        default:
            len++;
        }
    }

    if (len == 0) {
        return;
    }

    p = ngx_array_push_n(&pg->buf, len);
    if (p == NULL) {
        pg->failed = 1;
        return;
    }

    for (c = s; *c; c++) {
        switch (*c) {
        case '&':
            p = ngx_cpymem(p, "&amp;", sizeof("&amp;") - 1);
            break;
        case '<':
            p = ngx_cpymem(p, "&lt;", sizeof("&lt;") - 1);
            break;
        case '>':
            p = ngx_cpymem(p, "&gt;", sizeof("&gt;") - 1);
            break;
        case '"':
            p = ngx_cpymem(p, "&quot;", sizeof("&quot;") - 1);
            break;
        case '\'':
            p = ngx_cpymem(p, "&#39;", sizeof("&#39;") - 1);
            break;
        default:
            *p++ = *c;
        }
    }
}


static void
ngx_http_kafka_catalog_json(ngx_http_kafka_catalog_page_t *pg, json_t *v)
{
    char  *s;

    if (v == NULL) {
        return;
    }

    s = json_dumps(v, JSON_INDENT(2)|JSON_ENCODE_ANY);
    if (s == NULL) {
        pg->failed = 1;
        return;
    }

    ngx_http_kafka_catalog_esc(pg, s);
    free(s);
}

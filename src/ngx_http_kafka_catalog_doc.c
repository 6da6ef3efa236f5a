
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_sse.h"
#include "ngx_http_kafka_asyncapi.h"
#include "ngx_http_kafka_catalog.h"


/*
 * The AsyncAPI 3.0 document of a catalog request, from its entries (a
 * topic and a URL each; ngx_http_kafka_catalog.c).  One channel per topic,
 * whose address is the Kafka topic; one operation per entry, "send" for a
 * kafka_produce location and "receive" for a kafka_consume_sse one, with
 * its HTTP binding (method, query parameters) and, in "x-gateway", what
 * AsyncAPI has no field for: the URL, the accepted content types, the SSE
 * event name, format and resume semantics.
 *
 * Payload schemas are copies of the contracts' (kafka_produce_schema, or
 * the kafka_asyncapi channel of the topic), their local $refs inlined so
 * that the document stands alone; nothing from configuration is shared
 * with the document, which is freed once sent.
 */


#define NGX_HTTP_KAFKA_CATALOG_REF_DEPTH  16
#define NGX_HTTP_KAFKA_CATALOG_OP_MAX     100


typedef struct {
    json_t                            *doc;
    json_t                            *channels;
    json_t                            *operations;
    ngx_str_t                          base;      /* scheme://host */
    ngx_uint_t                         jwt;
} ngx_http_kafka_catalog_doc_t;


static json_t *ngx_http_kafka_catalog_server(ngx_http_request_t *r,
    ngx_http_kafka_catalog_doc_t *d);
static json_t *ngx_http_kafka_catalog_channel(ngx_http_kafka_catalog_doc_t *d,
    ngx_http_kafka_catalog_entry_t *e);
static ngx_int_t ngx_http_kafka_catalog_operation(ngx_http_request_t *r,
    ngx_http_kafka_catalog_doc_t *d, ngx_http_kafka_catalog_entry_t *e,
    json_t *channel);
static json_t *ngx_http_kafka_catalog_produce(ngx_http_kafka_catalog_entry_t *e,
    json_t *messages, json_t *refs, json_t *payload);
static json_t *ngx_http_kafka_catalog_consume(ngx_http_kafka_catalog_entry_t *e,
    json_t *messages, json_t *refs, json_t *payload);
static ngx_int_t ngx_http_kafka_catalog_message(json_t *messages,
    json_t *refs, ngx_str_t *topic, const char *name, json_t *message);
static json_t *ngx_http_kafka_catalog_payload(
    ngx_http_kafka_catalog_entry_t *e);
static json_t *ngx_http_kafka_catalog_copy(json_t *v, json_t *root,
    ngx_uint_t depth);
static json_t *ngx_http_kafka_catalog_pointer(json_t *root, const char *p);
static json_t *ngx_http_kafka_catalog_str(ngx_str_t *s);


json_t *
ngx_http_kafka_catalog_document(ngx_http_request_t *r,
    ngx_http_kafka_catalog_loc_conf_t *lcf, ngx_array_t *entries)
{
    json_t                          *info, *ch, *schemes;
    ngx_uint_t                       i;
    ngx_http_kafka_catalog_doc_t     d;
    ngx_http_kafka_catalog_entry_t  *e;

    ngx_memzero(&d, sizeof(ngx_http_kafka_catalog_doc_t));

    d.doc = json_object();
    d.channels = json_object();
    d.operations = json_object();

    if (d.doc == NULL || d.channels == NULL || d.operations == NULL) {
        goto failed;
    }

    info = json_pack("{s:o,s:o}",
                     "title", ngx_http_kafka_catalog_str(&lcf->title),
                     "version", ngx_http_kafka_catalog_str(&lcf->version));
    if (info == NULL) {
        goto failed;
    }

    if (lcf->description.len
        && json_object_set_new(info, "description",
                          ngx_http_kafka_catalog_str(&lcf->description))
           != 0)
    {
        json_decref(info);
        goto failed;
    }

    if (json_object_set_new(d.doc, "asyncapi", json_string("3.0.0")) != 0
        || json_object_set_new(d.doc, "info", info) != 0
        || json_object_set_new(d.doc, "defaultContentType",
                               json_string("application/json"))
           != 0
        || json_object_set_new(d.doc, "servers",
                               ngx_http_kafka_catalog_server(r, &d))
           != 0)
    {
        goto failed;
    }

    e = entries->elts;

    for (i = 0; i < entries->nelts; i++) {
        ch = ngx_http_kafka_catalog_channel(&d, &e[i]);

        if (ch == NULL
            || ngx_http_kafka_catalog_operation(r, &d, &e[i], ch) != NGX_OK)
        {
            goto failed;
        }

        d.jwt |= e[i].product->jwt;
    }

    if (json_object_set(d.doc, "channels", d.channels) != 0
        || json_object_set(d.doc, "operations", d.operations) != 0)
    {
        goto failed;
    }

    if (d.jwt) {
        schemes = json_pack("{s:{s:{s:s,s:s,s:s,s:s}}}",
                            "securitySchemes", "bearer",
                            "type", "http",
                            "scheme", "bearer",
                            "bearerFormat", "JWT",
                            "description", "A token in \"Authorization: "
                            "Bearer\"; its grants decide which topics may "
                            "be produced to or streamed from.");

        if (json_object_set_new(d.doc, "components", schemes) != 0) {
            goto failed;
        }
    }

    json_decref(d.channels);
    json_decref(d.operations);

    return d.doc;

failed:

    json_decref(d.doc);
    json_decref(d.channels);
    json_decref(d.operations);

    return NULL;
}


/* the server the caller used: its scheme and Host */

static json_t *
ngx_http_kafka_catalog_server(ngx_http_request_t *r,
    ngx_http_kafka_catalog_doc_t *d)
{
    u_char                    *p;
    ngx_str_t                  host, scheme;
    ngx_http_core_srv_conf_t  *cscf;

    ngx_str_set(&scheme, "http");

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https");
    }
#endif

    if (r->headers_in.host
        && ngx_http_kafka_utf8_valid(r->headers_in.host->value.data,
                                     r->headers_in.host->value.len))
    {
        host = r->headers_in.host->value;

    } else {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        host = cscf->server_name;

        if (host.len == 0) {
            ngx_str_set(&host, "localhost");
        }
    }

    d->base.data = ngx_pnalloc(r->pool, scheme.len + 3 + host.len);
    if (d->base.data == NULL) {
        return NULL;
    }

    p = ngx_cpymem(d->base.data, scheme.data, scheme.len);
    p = ngx_cpymem(p, "://", 3);
    p = ngx_cpymem(p, host.data, host.len);
    d->base.len = p - d->base.data;

    return json_pack("{s:{s:o,s:o,s:s}}", "gateway",
                     "host", ngx_http_kafka_catalog_str(&host),
                     "protocol", ngx_http_kafka_catalog_str(&scheme),
                     "description", "This gateway: Kafka over HTTP "
                     "(produce with POST, stream with Server-Sent Events).");
}


static json_t *
ngx_http_kafka_catalog_channel(ngx_http_kafka_catalog_doc_t *d,
    ngx_http_kafka_catalog_entry_t *e)
{
    char    name[NGX_HTTP_KAFKA_TOPIC_MAX_LEN + 1];
    json_t  *ch;

    ngx_cpystrn((u_char *) name, e->topic.data,
                ngx_min(e->topic.len + 1, sizeof(name)));

    ch = json_object_get(d->channels, name);
    if (ch != NULL) {
        return ch;
    }

    ch = json_pack("{s:o,s:o,s:s++,s:{}}",
                   "address", ngx_http_kafka_catalog_str(&e->topic),
                   "title", ngx_http_kafka_catalog_str(&e->topic),
                   "description", "The Kafka topic \"", name, "\".",
                   "messages");

    if (json_object_set_new(d->channels, name, ch) != 0) {
        return NULL;
    }

    return ch;
}


static ngx_int_t
ngx_http_kafka_catalog_operation(ngx_http_request_t *r,
    ngx_http_kafka_catalog_doc_t *d, ngx_http_kafka_catalog_entry_t *e,
    json_t *channel)
{
    char        id[NGX_HTTP_KAFKA_TOPIC_MAX_LEN + 32];
    u_char     *p, *url;
    json_t     *op, *refs, *payload, *x;
    ngx_uint_t  n, produce;

    produce = (e->product->action == NGX_HTTP_KAFKA_ACTION_PRODUCE);

    for (n = 1; n < NGX_HTTP_KAFKA_CATALOG_OP_MAX; n++) {
        p = ngx_snprintf((u_char *) id, sizeof(id) - 1, "%s-%V",
                         produce ? "produce" : "consume", &e->topic);
        if (n > 1) {
            p = ngx_snprintf(p, (u_char *) id + sizeof(id) - 1 - p, "-%ui",
                             n);
        }

        *p = '\0';

        if (json_object_get(d->operations, id) == NULL) {
            break;
        }
    }

    refs = json_array();
    payload = ngx_http_kafka_catalog_payload(e);

    if (refs == NULL || payload == NULL) {
        json_decref(refs);
        json_decref(payload);
        return NGX_ERROR;
    }

    if (produce) {
        op = ngx_http_kafka_catalog_produce(e,
                                json_object_get(channel, "messages"),
                                refs, payload);
    } else {
        op = ngx_http_kafka_catalog_consume(e,
                                json_object_get(channel, "messages"),
                                refs, payload);
    }

    json_decref(payload);

    if (op == NULL) {
        json_decref(refs);
        return NGX_ERROR;
    }

    url = ngx_pnalloc(r->pool, d->base.len + e->path.len + 1);
    if (url == NULL) {
        json_decref(refs);
        json_decref(op);
        return NGX_ERROR;
    }

    p = ngx_cpymem(url, d->base.data, d->base.len);
    p = ngx_cpymem(p, e->path.data, e->path.len);
    *p = '\0';

    x = json_object_get(op, "x-gateway");

    if (json_object_set_new(op, "channel",
                            json_pack("{s:s+}", "$ref", "#/channels/",
                                      json_string_value(json_object_get(
                                          channel, "address"))))
           != 0
        || json_object_set_new(op, "messages", refs) != 0
        || json_object_set_new(op, "summary",
                               json_pack("s++", produce ? "POST " : "GET ",
                                         (char *) url, ""))
           != 0
        || json_object_set_new(x, "url", json_string((char *) url)) != 0
        || json_object_set_new(x, "path",
                               ngx_http_kafka_catalog_str(&e->path))
           != 0)
    {
        json_decref(op);
        return NGX_ERROR;
    }

    if (e->product->jwt
        && json_object_set_new(op, "security",
                               json_pack("[{s:s}]", "$ref",
                                         "#/components/securitySchemes/"
                                         "bearer"))
           != 0)
    {
        json_decref(op);
        return NGX_ERROR;
    }

    if (json_object_set_new(d->operations, id, op) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* kafka_produce: the raw body, and the two REST Proxy v2 envelopes */

static json_t *
ngx_http_kafka_catalog_produce(ngx_http_kafka_catalog_entry_t *e,
    json_t *messages, json_t *refs, json_t *payload)
{
    json_t  *m, *key, *items;

    m = json_pack("{s:s,s:s,s:s,s:O}",
                  "name", "record",
                  "title", "A record, as the request body",
                  "summary", "The body is the record's value; any "
                  "Content-Type but application/vnd.kafka.* is taken as it "
                  "is.",
                  "payload", payload);

    if (ngx_http_kafka_catalog_message(messages, refs, &e->topic, "record",
                                       m)
        != NGX_OK)
    {
        return NULL;
    }

    key = json_pack("{s:[s,s],s:s}", "type", "string", "null",
                    "description", "The record's key (a JSON value is "
                    "produced as its JSON text).");

    items = json_pack("{s:s,s:{s:o,s:O,s:{s:s,s:i}}}",
                      "type", "object",
                      "properties",
                      "key", key,
                      "value", payload,
                      "partition", "type", "integer", "minimum", 0);

    m = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:[s],s:{s:{s:s,s:o}}}}",
                  "name", "restJson",
                  "title", "Records in a REST Proxy v2 JSON envelope",
                  "summary", "Confluent REST Proxy v2's embedded JSON "
                  "format: each value is produced as its JSON text.",
                  "contentType", "application/vnd.kafka.json.v2+json",
                  "payload",
                  "type", "object",
                  "required", "records",
                  "properties", "records", "type", "array", "items", items);

    if (ngx_http_kafka_catalog_message(messages, refs, &e->topic,
                                       "restJson", m)
        != NGX_OK)
    {
        return NULL;
    }

    items = json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:i}}}",
                      "type", "object",
                      "properties",
                      "key", "type", "string", "contentEncoding", "base64",
                      "value", "type", "string", "contentEncoding", "base64",
                      "partition", "type", "integer", "minimum", 0);

    m = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:[s],s:{s:{s:s,s:o}}}}",
                  "name", "restBinary",
                  "title", "Records in a REST Proxy v2 binary envelope",
                  "summary", "Confluent REST Proxy v2's embedded binary "
                  "format: keys and values in base64.",
                  "contentType", "application/vnd.kafka.binary.v2+json",
                  "payload",
                  "type", "object",
                  "required", "records",
                  "properties", "records", "type", "array", "items", items);

    if (ngx_http_kafka_catalog_message(messages, refs, &e->topic,
                                       "restBinary", m)
        != NGX_OK)
    {
        return NULL;
    }

    return json_pack("{s:s,s:s++,s:s,s:{s:{s:s,s:s}},s:{s:[sss],s:[sss],"
                     "s:b}}",
                     "action", "send",
                     "title", "Produce to ", (char *) e->topic.data, "",
                     "description", "POST (or PUT) one record as the body, "
                     "or several in a REST Proxy v2 envelope; the answer is "
                     "REST Proxy v2's offsets array once Kafka has "
                     "acknowledged them.  DELETE produces a tombstone for "
                     "the key of kafka_produce_key.",
                     "bindings", "http",
                     "method", "POST",
                     "bindingVersion", "0.3.0",
                     "x-gateway",
                     "methods", "POST", "PUT", "DELETE",
                     "contentTypes", "application/vnd.kafka.json.v2+json",
                     "application/vnd.kafka.binary.v2+json", "*/*",
                     "key", e->product->key);
}


/* kafka_consume_sse: one event per record, resumable */

static json_t *
ngx_http_kafka_catalog_consume(ngx_http_kafka_catalog_entry_t *e,
    json_t *messages, json_t *refs, json_t *payload)
{
    json_t                            *m, *query;
    ngx_str_t                         *event;
    const char                        *name;
    ngx_http_kafka_catalog_product_t  *p;

    p = e->product;
    event = p->event.len ? &p->event : &e->topic;

    if (p->format == NGX_HTTP_KAFKA_SSE_JSON) {
        name = "eventJson";
        m = json_pack("{s:s,s:s,s:s,s:{s:s,s:[sssssss],s:{s:{s:s},"
                      "s:{s:s,s:i},s:{s:s,s:i},s:{s:s,s:s},s:{s:[ss]},"
                      "s:{s:[ss],s:s},s:{s:s,s:{s:s}},s:{s:s,s:[s]},"
                      "s:{s:s,s:[s]}}}}",
                      "name", "eventJson",
                      "title", "A record as the JSON data of an event",
                      "summary", "The \"data:\" of each event; a key or "
                      "value that is not UTF-8 is in base64, flagged by "
                      "key_encoding or value_encoding.",
                      "payload",
                      "type", "object",
                      "required", "topic", "partition", "offset",
                      "timestamp", "key", "value", "headers",
                      "properties",
                      "topic", "type", "string",
                      "partition", "type", "integer", "minimum", 0,
                      "offset", "type", "integer", "minimum", 0,
                      "timestamp", "type", "integer", "description",
                      "milliseconds since the epoch",
                      "key", "type", "string", "null",
                      "value", "type", "string", "null", "description",
                      "the record's value as text",
                      "headers", "type", "array", "items", "type", "array",
                      "key_encoding", "type", "string", "enum", "base64",
                      "value_encoding", "type", "string", "enum", "base64");

    } else {
        name = "event";
        m = json_pack("{s:s,s:s,s:s,s:O}",
                      "name", "event",
                      "title", "A record's value as the data of an event",
                      "summary", "The \"data:\" lines of each event are the "
                      "record's value (one line of base64 after a \": "
                      "base64\" comment if it is not UTF-8).",
                      "payload", payload);
    }

    if (ngx_http_kafka_catalog_message(messages, refs, &e->topic, name, m)
        != NGX_OK)
    {
        return NULL;
    }

    query = json_pack("{s:s,s:{s:{s:s,s:s},s:{s:s,s:s}}}",
                      "type", "object",
                      "properties",
                      "last_event_id", "type", "string", "description",
                      "Resume after this event id (as the Last-Event-ID "
                      "header does, which wins)",
                      "since", "type", "string", "description",
                      "Start at this time: milliseconds since the epoch or "
                      "an RFC 3339 date-time");

    return json_pack("{s:s,s:s++,s:s,s:{s:{s:s,s:o,s:s}},s:{s:o,s:s,s:s,"
                     "s:I,s:{s:s,s:s,s:s},s:b}}",
                     "action", "receive",
                     "title", "Stream ", (char *) e->topic.data, "",
                     "description", "GET opens a Server-Sent Events stream "
                     "(text/event-stream): one event per record, whose id "
                     "resumes the stream where it left off.",
                     "bindings", "http",
                     "method", "GET",
                     "query", query,
                     "bindingVersion", "0.3.0",
                     "x-gateway",
                     "event", ngx_http_kafka_catalog_str(event),
                     "format", p->format == NGX_HTTP_KAFKA_SSE_JSON
                               ? "json" : "value",
                     "start", p->start == NGX_HTTP_KAFKA_SSE_EARLIEST
                              ? "earliest" : "latest",
                     "retry", (json_int_t) p->retry,
                     "resume",
                     "header", "Last-Event-ID",
                     "query", "last_event_id",
                     "since", "since",
                     "filterKey", p->filter_key);
}


/* a message of the channel (once) and the operation's reference to it */

static ngx_int_t
ngx_http_kafka_catalog_message(json_t *messages, json_t *refs,
    ngx_str_t *topic, const char *name, json_t *message)
{
    json_t  *ref;

    if (message == NULL) {
        return NGX_ERROR;
    }

    if (json_object_get(messages, name) == NULL) {
        if (json_object_set_new(messages, name, message) != 0) {
            return NGX_ERROR;
        }

    } else {
        json_decref(message);
    }

    /* "#/channels/TOPIC/messages/NAME": topics need no escaping */

    ref = json_pack("{s:s+++}", "$ref", "#/channels/", (char *) topic->data,
                    "/messages/", name);

    if (ref == NULL || json_array_append_new(refs, ref) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The value's schema: kafka_produce_schema, else the payloads of the
 * messages of the topic's kafka_asyncapi channel, else any value.
 */

static json_t *
ngx_http_kafka_catalog_payload(ngx_http_kafka_catalog_entry_t *e)
{
    json_t                             *one, *list, *s, *root;
    ngx_uint_t                          i;
    ngx_http_kafka_asyncapi_t          *api;
    ngx_http_kafka_asyncapi_message_t  *m;
    ngx_http_kafka_asyncapi_channel_t  *ch;

    if (e->product->schema) {
        return ngx_http_kafka_catalog_copy(e->product->schema,
                                           e->product->schema_doc, 0);
    }

    api = e->product->asyncapi;
    ch = api ? ngx_http_kafka_asyncapi_channel(api, &e->topic) : NULL;

    if (ch == NULL || ch->messages.nelts == 0) {
        return json_pack("{s:s}", "description", "Any value: no schema is "
                         "configured for this topic.");
    }

    m = ch->messages.elts;
    list = json_array();

    if (list == NULL) {
        return NULL;
    }

    /* a message's compiled payload knows the document it is part of */

    for (i = 0; i < ch->messages.nelts; i++) {

        if (m[i].payload) {
            s = ngx_http_kafka_schema_json(m[i].payload, &root);
            one = ngx_http_kafka_catalog_copy(s, root, 0);

        } else {
            one = json_object();
        }

        if (json_array_append_new(list, one) != 0) {
            json_decref(list);
            return NULL;
        }
    }

    if (json_array_size(list) == 1) {
        one = json_array_get(list, 0);
        json_incref(one);
        json_decref(list);
        return one;
    }

    return json_pack("{s:o}", "oneOf", list);
}


/*
 * A schema copied with its local references ("#/...") inlined against
 * the document it came from; the keywords that only serve references or
 * name a draft are left out (the document's schemas are AsyncAPI's).  A
 * reference that goes elsewhere, too deep (recursion) or nowhere becomes
 * an empty schema that says so.
 */

static json_t *
ngx_http_kafka_catalog_copy(json_t *v, json_t *root, ngx_uint_t depth)
{
    size_t       i;
    json_t      *out, *item, *target;
    const char  *key, *ref;

    if (json_is_array(v)) {
        out = json_array();

        json_array_foreach(v, i, item) {
            if (json_array_append_new(out,
                    ngx_http_kafka_catalog_copy(item, root, depth + 1))
                != 0)
            {
                json_decref(out);
                return NULL;
            }
        }

        return out;
    }

    if (!json_is_object(v)) {
        return json_deep_copy(v);
    }

    ref = json_string_value(json_object_get(v, "$ref"));

    if (ref) {
        target = (ref[0] == '#' && depth < NGX_HTTP_KAFKA_CATALOG_REF_DEPTH)
                 ? ngx_http_kafka_catalog_pointer(root, ref + 1) : NULL;

        if (target == NULL) {
            return json_pack("{s:s}", "description", "A schema defined "
                             "elsewhere (a recursive or external "
                             "reference).");
        }

        return ngx_http_kafka_catalog_copy(target, root, depth + 1);
    }

    if (depth > 4 * NGX_HTTP_KAFKA_CATALOG_REF_DEPTH) {
        return json_object();
    }

    out = json_object();

    json_object_foreach(v, key, item) {

        if (ngx_strcmp(key, "$schema") == 0 || ngx_strcmp(key, "$id") == 0
            || ngx_strcmp(key, "$defs") == 0
            || ngx_strcmp(key, "definitions") == 0
            || ngx_strcmp(key, "$anchor") == 0
            || ngx_strcmp(key, "$comment") == 0)
        {
            continue;
        }

        if (json_object_set_new(out, key,
                ngx_http_kafka_catalog_copy(item, root, depth + 1))
            != 0)
        {
            json_decref(out);
            return NULL;
        }
    }

    return out;
}


/* a JSON pointer ("/a/b~1c") in a document, or NULL */

static json_t *
ngx_http_kafka_catalog_pointer(json_t *root, const char *p)
{
    char        token[256];
    size_t      n;
    json_t     *v;
    ngx_int_t   index;

    v = root;

    while (*p == '/' && v != NULL) {
        p++;
        n = 0;

        while (*p && *p != '/' && n < sizeof(token) - 1) {
            if (p[0] == '~' && p[1] == '1') {
                token[n++] = '/';
                p += 2;

            } else if (p[0] == '~' && p[1] == '0') {
                token[n++] = '~';
                p += 2;

            } else {
                token[n++] = *p++;
            }
        }

        token[n] = '\0';

        if (json_is_array(v)) {
            index = ngx_atoi((u_char *) token, n);
            v = (index == NGX_ERROR) ? NULL : json_array_get(v, index);

        } else {
            v = json_object_get(v, token);
        }
    }

    return (*p == '\0') ? v : NULL;
}


static json_t *
ngx_http_kafka_catalog_str(ngx_str_t *s)
{
    return json_stringn((char *) s->data, s->len);
}

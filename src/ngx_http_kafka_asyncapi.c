
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <math.h>
#include <yaml.h>
#include <jansson.h>

#include "ngx_http_kafka_schema.h"
#include "ngx_http_kafka_asyncapi.h"


/*
 * Reading contracts at configuration time: JSON Schema files and AsyncAPI
 * documents, in JSON or (by a .yaml or .yml name) YAML through libyaml,
 * both as jansson values.  A file is named by a file: URI; a $ref to a
 * relative file is read through the same reader (the schema loader).
 * Every error names the file and a line and column, or the JSON pointer
 * of the place in the document.
 */


#define NGX_HTTP_KAFKA_ASYNCAPI_ERR       512
#define NGX_HTTP_KAFKA_ASYNCAPI_DEPTH     64
#define NGX_HTTP_KAFKA_ASYNCAPI_REFS      32


typedef struct {
    ngx_conf_t                        *cf;
    ngx_http_kafka_asyncapi_t         *api;
    const char                        *base;     /* the document's URI */
    char                              *err;
    size_t                             len;
} ngx_http_kafka_asyncapi_ctx_t;


static json_t *ngx_http_kafka_asyncapi_read(const char *path, char *err,
    size_t len);
static json_t *ngx_http_kafka_asyncapi_yaml(const char *path, char *err,
    size_t len);
static json_t *ngx_http_kafka_asyncapi_yaml_node(yaml_document_t *doc,
    yaml_node_t *node, int depth, char *err, size_t len);
static json_t *ngx_http_kafka_asyncapi_yaml_scalar(yaml_node_t *node);
static json_t *ngx_http_kafka_asyncapi_load_ref(const char *uri, void *data,
    char *err, size_t len);
static char *ngx_http_kafka_asyncapi_uri(ngx_pool_t *pool, ngx_str_t *file);
static void ngx_http_kafka_asyncapi_schema_cleanup(void *data);
static void ngx_http_kafka_asyncapi_cleanup(void *data);
static ngx_int_t ngx_http_kafka_asyncapi_channels(
    ngx_http_kafka_asyncapi_ctx_t *ctx, json_t *channels, int v3);
static ngx_int_t ngx_http_kafka_asyncapi_messages(
    ngx_http_kafka_asyncapi_ctx_t *ctx,
    ngx_http_kafka_asyncapi_channel_t *ch, const char *name, json_t *msg,
    json_t *doc, const char *base, const char *where, int v3);
static ngx_http_kafka_schema_t *ngx_http_kafka_asyncapi_compile(
    ngx_http_kafka_asyncapi_ctx_t *ctx, json_t *schema, json_t *doc,
    const char *base, const char *where);
static json_t *ngx_http_kafka_asyncapi_follow(
    ngx_http_kafka_asyncapi_ctx_t *ctx, json_t *v, json_t **doc,
    const char **base, const char *where);
static json_t *ngx_http_kafka_asyncapi_pointer(json_t *root,
    const char *frag);


/* a JSON Schema file for kafka_produce_schema and kafka_produce_key_schema */

ngx_http_kafka_schema_t *
ngx_http_kafka_asyncapi_schema(ngx_conf_t *cf, ngx_str_t *file)
{
    char                             *uri;
    json_t                           *doc;
    ngx_pool_cleanup_t               *cln;
    ngx_http_kafka_schema_t          *schema;
    ngx_http_kafka_schema_options_t   opts;
    char                              err[NGX_HTTP_KAFKA_ASYNCAPI_ERR];

    err[0] = '\0';

    doc = ngx_http_kafka_asyncapi_read((char *) file->data, err, sizeof(err));
    if (doc == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "schema \"%V\": %s", file,
                           err);
        return NULL;
    }

    uri = ngx_http_kafka_asyncapi_uri(cf->pool, file);
    if (uri == NULL) {
        json_decref(doc);
        return NULL;
    }

    ngx_memzero(&opts, sizeof(ngx_http_kafka_schema_options_t));
    opts.draft = NGX_HTTP_KAFKA_SCHEMA_DRAFT2020;
    opts.base = uri;
    opts.load = ngx_http_kafka_asyncapi_load_ref;

    schema = ngx_http_kafka_schema_compile(doc, &opts, err, sizeof(err));
    json_decref(doc);

    if (schema == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "schema \"%V\": invalid schema at %s", file, err);
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_http_kafka_schema_free(schema);
        return NULL;
    }

    cln->handler = ngx_http_kafka_asyncapi_schema_cleanup;
    cln->data = schema;

    return schema;
}


static void
ngx_http_kafka_asyncapi_schema_cleanup(void *data)
{
    ngx_http_kafka_schema_free(data);
}


/* a file: URI for a full path (the schemas' base URI) */

static char *
ngx_http_kafka_asyncapi_uri(ngx_pool_t *pool, ngx_str_t *file)
{
    u_char  *uri;

    uri = ngx_pnalloc(pool, sizeof("file://") + file->len);
    if (uri == NULL) {
        return NULL;
    }

    ngx_sprintf(uri, "file://%V%Z", file);

    return (char *) uri;
}


/* a $ref to another file, relative to the referring one */

static json_t *
ngx_http_kafka_asyncapi_load_ref(const char *uri, void *data, char *err,
    size_t len)
{
    if (ngx_strncmp(uri, "file://", 7) != 0) {
        ngx_cpystrn((u_char *) err,
                    (u_char *) "only files are read, nothing from the "
                    "network", len);
        return NULL;
    }

    return ngx_http_kafka_asyncapi_read(uri + 7, err, len);
}


static json_t *
ngx_http_kafka_asyncapi_read(const char *path, char *err, size_t len)
{
    size_t        n;
    json_t       *doc;
    json_error_t  jerr;

    n = ngx_strlen(path);

    if ((n > 5 && ngx_strcmp(path + n - 5, ".yaml") == 0)
        || (n > 4 && ngx_strcmp(path + n - 4, ".yml") == 0))
    {
        return ngx_http_kafka_asyncapi_yaml(path, err, len);
    }

    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

    if (doc == NULL) {
        if (jerr.line > 0) {
            ngx_snprintf((u_char *) err, len, "line %d, column %d: %s%Z",
                         jerr.line, jerr.column, jerr.text);

        } else {
            ngx_snprintf((u_char *) err, len, "%s%Z", jerr.text);
        }
    }

    return doc;
}


static json_t *
ngx_http_kafka_asyncapi_yaml(const char *path, char *err, size_t len)
{
    FILE             *f;
    json_t           *json;
    yaml_node_t      *root;
    yaml_parser_t     parser;
    yaml_document_t   doc;

    f = fopen(path, "rb");
    if (f == NULL) {
        ngx_snprintf((u_char *) err, len, "cannot open: %s%Z",
                     strerror(errno));
        return NULL;
    }

    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        ngx_snprintf((u_char *) err, len, "out of memory%Z");
        return NULL;
    }

    yaml_parser_set_input_file(&parser, f);

    if (!yaml_parser_load(&parser, &doc)) {
        ngx_snprintf((u_char *) err, len, "line %uz, column %uz: %s%s%s%Z",
                     parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "invalid YAML",
                     parser.context ? " " : "",
                     parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return NULL;
    }

    root = yaml_document_get_root_node(&doc);

    if (root == NULL) {
        ngx_snprintf((u_char *) err, len, "an empty document%Z");
        json = NULL;

    } else {
        json = ngx_http_kafka_asyncapi_yaml_node(&doc, root, 0, err, len);
    }

    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);

    return json;
}


/* YAML nodes as JSON values: mappings with scalar keys, sequences */

static json_t *
ngx_http_kafka_asyncapi_yaml_node(yaml_document_t *doc, yaml_node_t *node,
    int depth, char *err, size_t len)
{
    json_t            *json, *v;
    yaml_node_t       *k;
    yaml_node_item_t  *item;
    yaml_node_pair_t  *pair;

    if (depth > NGX_HTTP_KAFKA_ASYNCAPI_DEPTH) {
        ngx_snprintf((u_char *) err, len, "line %uz, column %uz: nested "
                     "deeper than %d (a recursive alias?)%Z",
                     node->start_mark.line + 1, node->start_mark.column + 1,
                     NGX_HTTP_KAFKA_ASYNCAPI_DEPTH);
        return NULL;
    }

    switch (node->type) {

    case YAML_SCALAR_NODE:
        json = ngx_http_kafka_asyncapi_yaml_scalar(node);
        break;

    case YAML_SEQUENCE_NODE:
        json = json_array();

        for (item = node->data.sequence.items.start;
             json && item < node->data.sequence.items.top; item++)
        {
            v = ngx_http_kafka_asyncapi_yaml_node(doc,
                    yaml_document_get_node(doc, *item), depth + 1, err, len);

            if (v == NULL || json_array_append_new(json, v) != 0) {
                json_decref(json);
                return NULL;
            }
        }

        break;

    case YAML_MAPPING_NODE:
        json = json_object();

        for (pair = node->data.mapping.pairs.start;
             json && pair < node->data.mapping.pairs.top; pair++)
        {
            k = yaml_document_get_node(doc, pair->key);

            if (k->type != YAML_SCALAR_NODE) {
                ngx_snprintf((u_char *) err, len, "line %uz, column %uz: "
                             "a key must be a scalar%Z",
                             k->start_mark.line + 1,
                             k->start_mark.column + 1);
                json_decref(json);
                return NULL;
            }

            v = ngx_http_kafka_asyncapi_yaml_node(doc,
                    yaml_document_get_node(doc, pair->value), depth + 1,
                    err, len);

            if (v == NULL) {
                json_decref(json);
                return NULL;
            }

            if (json_object_setn_new(json, (char *) k->data.scalar.value,
                                     k->data.scalar.length, v)
                != 0)
            {
                ngx_snprintf((u_char *) err, len, "line %uz, column %uz: "
                             "invalid key%Z", k->start_mark.line + 1,
                             k->start_mark.column + 1);
                json_decref(json);
                return NULL;
            }
        }

        break;

    default:
        json = NULL;
    }

    if (json == NULL && err[0] == '\0') {
        ngx_snprintf((u_char *) err, len, "line %uz, column %uz: invalid "
                     "value%Z", node->start_mark.line + 1,
                     node->start_mark.column + 1);
    }

    return json;
}


/*
 * A plain scalar is null, a boolean, an integer or a number when it reads
 * as one in YAML 1.2's core schema; a quoted one is always a string.
 */

static json_t *
ngx_http_kafka_asyncapi_yaml_scalar(yaml_node_t *node)
{
    char        *end, buf[64];
    size_t       n;
    double       d;
    long long    i;
    const char  *s;

    s = (const char *) node->data.scalar.value;
    n = node->data.scalar.length;

    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return json_stringn(s, n);
    }

    if (n == 0 || (n == 1 && s[0] == '~')
        || (n == 4 && (ngx_strncmp(s, "null", 4) == 0
                       || ngx_strncmp(s, "Null", 4) == 0
                       || ngx_strncmp(s, "NULL", 4) == 0)))
    {
        return json_null();
    }

    if ((n == 4 && (ngx_strncmp(s, "true", 4) == 0
                    || ngx_strncmp(s, "True", 4) == 0
                    || ngx_strncmp(s, "TRUE", 4) == 0)))
    {
        return json_true();
    }

    if ((n == 5 && (ngx_strncmp(s, "false", 5) == 0
                    || ngx_strncmp(s, "False", 5) == 0
                    || ngx_strncmp(s, "FALSE", 5) == 0)))
    {
        return json_false();
    }

    if (n < sizeof(buf)
        && ((s[0] >= '0' && s[0] <= '9')
            || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && n > 1)))
    {
        ngx_memcpy(buf, s, n);
        buf[n] = '\0';

        errno = 0;
        i = strtoll(buf, &end, 10);

        if (*end == '\0' && errno == 0) {
            return json_integer(i);
        }

        d = strtod(buf, &end);

        if (*end == '\0' && end != buf && d == d
            && d != HUGE_VAL && d != -HUGE_VAL
            && ngx_strchr(buf, 'x') == NULL && ngx_strchr(buf, 'X') == NULL
            && ngx_strchr(buf, 'n') == NULL && ngx_strchr(buf, 'N') == NULL)
        {
            return json_real(d);
        }
    }

    return json_stringn(s, n);
}


/*
 * An AsyncAPI document: "asyncapi" 3.x or 2.x, its channels as topics (a
 * Kafka channel binding's "topic", else 3.x's "address" or 2.x's channel
 * name), and each channel's messages (3.x: "messages"; 2.x: the
 * "publish" and "subscribe" operations' "message", "oneOf" too) with their
 * payload schemas compiled.  $refs of channels, operations and messages
 * are followed here, into components or relative files; those of the
 * schemas by the validator.
 */

ngx_http_kafka_asyncapi_t *
ngx_http_kafka_asyncapi_load(ngx_conf_t *cf, ngx_str_t *file)
{
    int                             v3;
    char                           *uri;
    json_t                         *doc, *version, *channels;
    const char                     *ver;
    ngx_pool_cleanup_t             *cln;
    ngx_http_kafka_asyncapi_t      *api;
    ngx_http_kafka_asyncapi_ctx_t   ctx;
    char                            err[NGX_HTTP_KAFKA_ASYNCAPI_ERR];

    api = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_asyncapi_t));
    if (api == NULL) {
        return NULL;
    }

    api->file = *file;

    if (ngx_array_init(&api->channels, cf->pool, 4,
                       sizeof(ngx_http_kafka_asyncapi_channel_t))
        != NGX_OK)
    {
        return NULL;
    }

    api->docs = json_object();
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (api->docs == NULL || cln == NULL) {
        json_decref(api->docs);
        return NULL;
    }

    cln->handler = ngx_http_kafka_asyncapi_cleanup;
    cln->data = api;

    err[0] = '\0';

    doc = ngx_http_kafka_asyncapi_read((char *) file->data, err, sizeof(err));
    if (doc == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "asyncapi \"%V\": %s", file,
                           err);
        return NULL;
    }

    uri = ngx_http_kafka_asyncapi_uri(cf->pool, file);

    if (uri == NULL || json_object_set_new(api->docs, uri, doc) != 0) {
        return NULL;
    }

    api->doc = doc;

    version = json_object_get(doc, "asyncapi");
    ver = json_string_value(version);

    if (ver == NULL || (ngx_strncmp(ver, "3.", 2) != 0
                        && ngx_strncmp(ver, "2.", 2) != 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "asyncapi \"%V\": "
                           "/asyncapi: %s%s%s, expected an AsyncAPI 3.x or "
                           "2.x document", file,
                           ver ? "version \"" : "missing",
                           ver ? ver : "", ver ? "\" is not supported" : "");
        return NULL;
    }

    v3 = (ver[0] == '3');
    api->version.data = (u_char *) ver;
    api->version.len = ngx_strlen(ver);

    channels = json_object_get(doc, "channels");

    if (channels != NULL && !json_is_object(channels)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "asyncapi \"%V\": "
                           "/channels: must be an object", file);
        return NULL;
    }

    ctx.cf = cf;
    ctx.api = api;
    ctx.base = uri;
    ctx.err = err;
    ctx.len = sizeof(err);

    if (channels != NULL
        && ngx_http_kafka_asyncapi_channels(&ctx, channels, v3) != NGX_OK)
    {
        return NULL;
    }

    return api;
}


ngx_http_kafka_asyncapi_channel_t *
ngx_http_kafka_asyncapi_channel(ngx_http_kafka_asyncapi_t *api,
    ngx_str_t *topic)
{
    ngx_uint_t                          i;
    ngx_http_kafka_asyncapi_channel_t  *ch;

    ch = api->channels.elts;

    for (i = 0; i < api->channels.nelts; i++) {
        if (ch[i].topic.len == topic->len
            && ngx_strncmp(ch[i].topic.data, topic->data, topic->len) == 0)
        {
            return &ch[i];
        }
    }

    return NULL;
}


static void
ngx_http_kafka_asyncapi_cleanup(void *data)
{
    ngx_http_kafka_asyncapi_t  *api = data;

    json_decref(api->docs);
}


static ngx_int_t
ngx_http_kafka_asyncapi_channels(ngx_http_kafka_asyncapi_ctx_t *ctx,
    json_t *channels, int v3)
{
    json_t                             *ch, *v, *doc, *msgs, *m, *op;
    u_char                             *where, *p;
    ngx_str_t                           topic;
    const char                         *name, *mname, *base, *t;
    ngx_http_kafka_asyncapi_channel_t  *c;

    json_object_foreach(channels, name, ch) {

        where = ngx_pnalloc(ctx->cf->pool, ngx_strlen(name) + 64);
        if (where == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(where, "/channels/%s%Z", name);

        doc = ctx->api->doc;
        base = ctx->base;

        ch = ngx_http_kafka_asyncapi_follow(ctx, ch, &doc, &base,
                                            (char *) where);
        if (ch == NULL) {
            return NGX_ERROR;
        }

        if (!json_is_object(ch)) {
            ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0, "asyncapi \"%V\": "
                               "%s: a channel must be an object",
                               &ctx->api->file, where);
            return NGX_ERROR;
        }

        v = json_object_get(json_object_get(json_object_get(ch, "bindings"),
                                            "kafka"), "topic");
        t = json_string_value(v);

        if (t == NULL) {
            t = v3 ? json_string_value(json_object_get(ch, "address"))
                   : name;
        }

        /* a dynamic address, or one with parameters, names no one topic */
        if (t == NULL || ngx_strchr(t, '{') != NULL) {
            continue;
        }

        topic.data = (u_char *) t;
        topic.len = ngx_strlen(t);

        c = ngx_http_kafka_asyncapi_channel(ctx->api, &topic);

        if (c == NULL) {
            c = ngx_array_push(&ctx->api->channels);
            if (c == NULL) {
                return NGX_ERROR;
            }

            c->topic = topic;
            c->name.data = (u_char *) name;
            c->name.len = ngx_strlen(name);
            c->json = ch;

            if (ngx_array_init(&c->messages, ctx->cf->pool, 2,
                               sizeof(ngx_http_kafka_asyncapi_message_t))
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        p = ngx_pnalloc(ctx->cf->pool, ngx_strlen(where) + 256);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (v3) {
            msgs = json_object_get(ch, "messages");

            json_object_foreach(msgs, mname, m) {
                ngx_snprintf(p, ngx_strlen(where) + 255, "%s/messages/%s%Z",
                             where, mname);

                if (ngx_http_kafka_asyncapi_messages(ctx, c, mname, m, doc,
                                                     base, (char *) p, 1)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }

            continue;
        }

        for (mname = "publish"; mname; mname = (*mname == 'p')
                                                ? "subscribe" : NULL)
        {
            op = json_object_get(ch, mname);
            if (op == NULL) {
                continue;
            }

            ngx_snprintf(p, ngx_strlen(where) + 255, "%s/%s/message%Z",
                         where, mname);

            op = ngx_http_kafka_asyncapi_follow(ctx, op, &doc, &base,
                                                (char *) p);
            if (op == NULL) {
                return NGX_ERROR;
            }

            m = json_object_get(op, "message");

            if (m != NULL
                && ngx_http_kafka_asyncapi_messages(ctx, c, NULL, m, doc,
                                                    base, (char *) p, 0)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_asyncapi_messages(ngx_http_kafka_asyncapi_ctx_t *ctx,
    ngx_http_kafka_asyncapi_channel_t *ch, const char *name, json_t *msg,
    json_t *doc, const char *base, const char *where, int v3)
{
    size_t                              i;
    u_char                             *p;
    json_t                             *payload, *key, *list, *format;
    const char                         *f;
    ngx_http_kafka_asyncapi_message_t  *m;

    msg = ngx_http_kafka_asyncapi_follow(ctx, msg, &doc, &base, where);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    if (!json_is_object(msg)) {
        ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0, "asyncapi \"%V\": %s: "
                           "a message must be an object", &ctx->api->file,
                           where);
        return NGX_ERROR;
    }

    list = json_object_get(msg, "oneOf");

    if (!v3 && json_is_array(list)) {
        p = ngx_pnalloc(ctx->cf->pool, ngx_strlen(where) + 32);
        if (p == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < json_array_size(list); i++) {
            ngx_sprintf(p, "%s/oneOf/%uz%Z", where, i);

            if (ngx_http_kafka_asyncapi_messages(ctx, ch, NULL,
                                                 json_array_get(list, i),
                                                 doc, base, (char *) p, 0)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    m = ngx_array_push(&ch->messages);
    if (m == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(m, sizeof(ngx_http_kafka_asyncapi_message_t));

    if (name == NULL) {
        name = json_string_value(json_object_get(msg, "name"));
    }

    if (name == NULL) {
        name = json_string_value(json_object_get(msg, "messageId"));
    }

    if (name == NULL) {
        name = "message";
    }

    m->name.data = (u_char *) name;
    m->name.len = ngx_strlen(name);
    m->json = msg;

    payload = json_object_get(msg, "payload");
    format = json_object_get(msg, "schemaFormat");

    /* 3.x: a Multi Format Schema Object holds the schema and its format */
    if (v3 && json_is_object(payload)
        && json_object_get(payload, "schemaFormat") != NULL
        && json_object_get(payload, "schema") != NULL)
    {
        format = json_object_get(payload, "schemaFormat");
        payload = json_object_get(payload, "schema");
    }

    f = json_string_value(format);

    if (f != NULL && ngx_strstr(f, "schema+json") == NULL
        && ngx_strstr(f, "schema+yaml") == NULL
        && ngx_strstr(f, "asyncapi") == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0, "asyncapi \"%V\": %s: "
                           "schemaFormat \"%s\" is not supported (JSON "
                           "Schema and AsyncAPI schemas are)",
                           &ctx->api->file, where, f);
        return NGX_ERROR;
    }

    if (payload != NULL) {
        p = ngx_pnalloc(ctx->cf->pool, ngx_strlen(where) + 16);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(p, "%s/payload%Z", where);

        m->payload = ngx_http_kafka_asyncapi_compile(ctx, payload, doc, base,
                                                     (char *) p);
        if (m->payload == NULL) {
            return NGX_ERROR;
        }
    }

    key = json_object_get(json_object_get(json_object_get(msg, "bindings"),
                                          "kafka"), "key");

    if (key != NULL) {
        p = ngx_pnalloc(ctx->cf->pool, ngx_strlen(where) + 32);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(p, "%s/bindings/kafka/key%Z", where);

        m->key = ngx_http_kafka_asyncapi_compile(ctx, key, doc, base,
                                                 (char *) p);
        if (m->key == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* AsyncAPI's schema object is JSON Schema draft-07 with a few keywords */

static ngx_http_kafka_schema_t *
ngx_http_kafka_asyncapi_compile(ngx_http_kafka_asyncapi_ctx_t *ctx,
    json_t *schema, json_t *doc, const char *base, const char *where)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_kafka_schema_t          *s;
    ngx_http_kafka_schema_options_t   opts;

    ngx_memzero(&opts, sizeof(ngx_http_kafka_schema_options_t));
    opts.draft = NGX_HTTP_KAFKA_SCHEMA_DRAFT7;
    opts.base = base;
    opts.document = doc;
    opts.load = ngx_http_kafka_asyncapi_load_ref;

    ctx->err[0] = '\0';

    s = ngx_http_kafka_schema_compile(schema, &opts, ctx->err, ctx->len);
    if (s == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0, "asyncapi \"%V\": %s: "
                           "invalid schema at %s", &ctx->api->file, where,
                           ctx->err);
        return NULL;
    }

    cln = ngx_pool_cleanup_add(ctx->cf->pool, 0);
    if (cln == NULL) {
        ngx_http_kafka_schema_free(s);
        return NULL;
    }

    cln->handler = ngx_http_kafka_asyncapi_schema_cleanup;
    cln->data = s;

    return s;
}


/*
 * Follows an AsyncAPI object's $ref ("#/components/messages/x",
 * "messages.yaml#/x"): *doc and *base become those of the file that holds
 * the target.  A file is read once per document.
 */

static json_t *
ngx_http_kafka_asyncapi_follow(ngx_http_kafka_asyncapi_ctx_t *ctx, json_t *v,
    json_t **doc, const char **base, const char *where)
{
    int          n;
    u_char      *uri, *slash;
    json_t      *ref, *d, *target;
    size_t       flen;
    const char  *r, *hash;

    for (n = 0; n < NGX_HTTP_KAFKA_ASYNCAPI_REFS; n++) {
        ref = json_object_get(v, "$ref");

        if (!json_is_object(v) || !json_is_string(ref)) {
            return v;
        }

        r = json_string_value(ref);
        hash = ngx_strchr(r, '#');
        flen = hash ? (size_t) (hash - r) : ngx_strlen(r);

        if (flen > 0) {
            if (flen > 7 && ngx_strncmp(r, "http", 4) == 0
                && ngx_strstr(r, "://") != NULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0, "asyncapi "
                                   "\"%V\": %s: $ref \"%s\": only files are "
                                   "read, nothing from the network",
                                   &ctx->api->file, where, r);
                return NULL;
            }

            /* relative to the referring file's directory */
            uri = ngx_pnalloc(ctx->cf->pool, ngx_strlen(*base) + flen + 2);
            if (uri == NULL) {
                return NULL;
            }

            if (r[0] == '/') {
                ngx_sprintf(uri, "file://%*s%Z", flen, r);

            } else {
                slash = (u_char *) strrchr(*base, '/');
                ngx_sprintf(uri, "%*s%*s%Z",
                            (size_t) (slash - (u_char *) *base + 1), *base,
                            flen, r);
            }

            d = json_object_get(ctx->api->docs, (char *) uri);

            if (d == NULL) {
                ctx->err[0] = '\0';
                d = ngx_http_kafka_asyncapi_read((char *) uri + 7, ctx->err,
                                                 ctx->len);
                if (d == NULL) {
                    ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0,
                                       "asyncapi \"%V\": %s: $ref \"%s\": "
                                       "\"%s\": %s", &ctx->api->file, where,
                                       r, uri + 7, ctx->err);
                    return NULL;
                }

                if (json_object_set_new(ctx->api->docs, (char *) uri, d)
                    != 0)
                {
                    return NULL;
                }
            }

            *doc = d;
            *base = (char *) uri;
        }

        target = (hash && hash[1]) ? ngx_http_kafka_asyncapi_pointer(*doc,
                                                                    hash + 1)
                                   : *doc;
        if (target == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0, "asyncapi \"%V\": "
                               "%s: $ref \"%s\" points to nothing",
                               &ctx->api->file, where, r);
            return NULL;
        }

        v = target;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, ctx->cf, 0, "asyncapi \"%V\": %s: "
                       "more than %d $refs in a row", &ctx->api->file, where,
                       NGX_HTTP_KAFKA_ASYNCAPI_REFS);

    return NULL;
}


/* a JSON pointer (RFC 6901) in a document */

static json_t *
ngx_http_kafka_asyncapi_pointer(json_t *root, const char *frag)
{
    char        seg[256];
    size_t      n;
    json_t     *cur;
    const char  *c;

    if (*frag != '/') {
        return NULL;
    }

    cur = root;
    c = frag;

    while (cur != NULL && *c == '/') {
        c++;
        n = 0;

        while (*c && *c != '/' && n < sizeof(seg) - 1) {
            if (c[0] == '~' && (c[1] == '0' || c[1] == '1')) {
                seg[n++] = (c[1] == '0') ? '~' : '/';
                c += 2;
                continue;
            }

            seg[n++] = *c++;
        }

        seg[n] = '\0';

        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);

        } else if (json_is_array(cur)) {
            cur = json_array_get(cur, (size_t) ngx_atoi((u_char *) seg, n));

        } else {
            cur = NULL;
        }
    }

    return cur;
}

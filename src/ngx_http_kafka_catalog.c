
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_produce.h"
#include "ngx_http_kafka_sse.h"
#include "ngx_http_kafka_jwt.h"
#include "ngx_http_kafka_acl.h"
#include "ngx_http_kafka_contract.h"
#include "ngx_http_kafka_metadata.h"
#include "ngx_http_kafka_catalog.h"


/*
 * kafka_catalog: the event products of a server{} as an AsyncAPI 3.0
 * document, or as a page for people.
 *
 * The products are found at configuration time: this module is the last
 * of the gateway's to merge its location configurations, so when its
 * merge runs for a location, that location's kafka_produce,
 * kafka_consume_sse, kafka_jwt and contract configurations are final; a
 * location that produces or streams is then recorded in its server's
 * list, or, if no URL can be told for it, noted to be warned about once
 * the whole configuration is known (postconfiguration) and only in a
 * server that has a catalog.
 *
 * At request time the list is turned into entries, a topic and a URL
 * each: a fixed product is one entry, a templated one an entry per topic
 * of Kafka's metadata that its location's regex admits (internal topics
 * never), all filtered by the caller's grants when kafka_jwt protects the
 * catalog.  The document is built from the entries, so a topic the caller
 * may not use appears nowhere in it.
 */


#define NGX_HTTP_KAFKA_CATALOG_JSON    0
#define NGX_HTTP_KAFKA_CATALOG_HTML    1
#define NGX_HTTP_KAFKA_CATALOG_YAML    2


static ngx_int_t ngx_http_kafka_catalog_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_catalog_metadata(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, rd_kafka_resp_err_t err);
static ngx_int_t ngx_http_kafka_catalog_send(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md);
static ngx_int_t ngx_http_kafka_catalog_json(ngx_http_request_t *r,
    json_t *doc, ngx_str_t *out);
static ngx_int_t ngx_http_kafka_catalog_entries(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, ngx_array_t *entries);
static ngx_int_t ngx_http_kafka_catalog_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_kafka_catalog_admits(ngx_http_request_t *r,
    ngx_http_kafka_catalog_product_t *p, ngx_str_t *topic);
static ngx_int_t ngx_http_kafka_catalog_add(ngx_http_request_t *r,
    ngx_array_t *entries, ngx_http_kafka_catalog_product_t *p,
    ngx_str_t *topic, ngx_uint_t filter);
static ngx_uint_t ngx_http_kafka_catalog_protected(ngx_http_request_t *r);
static ngx_uint_t ngx_http_kafka_catalog_format(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_catalog_fill(ngx_pool_t *pool,
    ngx_str_t *template, ngx_str_t *topic, ngx_str_t *out);
static void *ngx_http_kafka_catalog_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_kafka_catalog_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_catalog_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_kafka_catalog_collect(ngx_conf_t *cf,
    ngx_http_kafka_catalog_loc_conf_t *lcf, ngx_http_complex_value_t *cv,
    ngx_uint_t action);
static ngx_int_t ngx_http_kafka_catalog_init(ngx_conf_t *cf);
static char *ngx_http_kafka_catalog(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kafka_catalog_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kafka_catalog_check_path(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_kafka_catalog_check_text(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_post_t  ngx_http_kafka_catalog_path_post = {
    ngx_http_kafka_catalog_check_path
};


static ngx_conf_post_t  ngx_http_kafka_catalog_text_post = {
    ngx_http_kafka_catalog_check_text
};


static ngx_command_t  ngx_http_kafka_catalog_commands[] = {

    { ngx_string("kafka_catalog"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kafka_catalog,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_catalog_path"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_catalog_path,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_catalog_loc_conf_t, path),
      &ngx_http_kafka_catalog_path_post },

    { ngx_string("kafka_catalog_title"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_catalog_loc_conf_t, title),
      &ngx_http_kafka_catalog_text_post },

    { ngx_string("kafka_catalog_version"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_catalog_loc_conf_t, version),
      &ngx_http_kafka_catalog_text_post },

    { ngx_string("kafka_catalog_description"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_catalog_loc_conf_t, description),
      &ngx_http_kafka_catalog_text_post },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_catalog_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kafka_catalog_init,           /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_kafka_catalog_create_srv_conf, /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_catalog_create_loc_conf, /* create location configuration */
    ngx_http_kafka_catalog_merge_loc_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_catalog_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_catalog_module_ctx,    /* module context */
    ngx_http_kafka_catalog_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_kafka_entry_t  ngx_http_kafka_catalog_entry = {
    NGX_HTTP_GET|NGX_HTTP_HEAD,
    ngx_string("GET, HEAD"),
    "use GET",
    "kafka_catalog",
    0,
    1,
    1
};


static ngx_str_t  ngx_http_kafka_catalog_types[] = {
    ngx_string("application/json"),
    ngx_string("text/html; charset=utf-8"),
    ngx_string("application/yaml")
};


/*
 * The page's scripts and styles are inline and its streams same-origin:
 * nothing else may load.
 */
static ngx_str_t  ngx_http_kafka_catalog_csp = ngx_string(
    "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'");


static ngx_int_t
ngx_http_kafka_catalog_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_kafka_catalog_srv_conf_t  *kcscf;

    rc = ngx_http_kafka_entry(r, &ngx_http_kafka_catalog_entry, NULL, NULL);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    kcscf = ngx_http_get_module_srv_conf(r, ngx_http_kafka_catalog_module);

    if (kcscf->templated) {
        return ngx_http_kafka_metadata_get(r,
                                           ngx_http_kafka_catalog_metadata);
    }

    return ngx_http_kafka_catalog_send(r, NULL);
}


static ngx_int_t
ngx_http_kafka_catalog_metadata(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, rd_kafka_resp_err_t err)
{
    if (md == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kafka_catalog: no metadata from Kafka: %s",
                      rd_kafka_err2str(err));

        return ngx_http_kafka_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         NGX_HTTP_KAFKA_REST_CLIENT_UNAVAILABLE,
                                         "Kafka's metadata is unavailable: %s",
                                         rd_kafka_err2str(err));
    }

    return ngx_http_kafka_catalog_send(r, md);
}


static ngx_int_t
ngx_http_kafka_catalog_send(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md)
{
    ngx_int_t                           rc;
    json_t                             *doc;
    ngx_str_t                           out, value;
    ngx_uint_t                          format;
    ngx_array_t                         entries;
    ngx_http_kafka_catalog_loc_conf_t  *lcf;

    if (ngx_array_init(&entries, r->pool, 8,
                       sizeof(ngx_http_kafka_catalog_entry_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kafka_catalog_entries(r, md, &entries) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_catalog_module);

    doc = ngx_http_kafka_catalog_document(r, lcf, &entries);
    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    format = ngx_http_kafka_catalog_format(r);

    switch (format) {

    case NGX_HTTP_KAFKA_CATALOG_HTML:
        rc = ngx_http_kafka_catalog_html(r, doc, &out);

        if (rc == NGX_OK
            && ngx_http_kafka_header_add(r, "Content-Security-Policy",
                                         &ngx_http_kafka_catalog_csp)
               == NULL)
        {
            rc = NGX_ERROR;
        }

        break;

    case NGX_HTTP_KAFKA_CATALOG_YAML:
        rc = ngx_http_kafka_catalog_yaml(r, doc, &out);
        break;

    default:
        rc = ngx_http_kafka_catalog_json(r, doc, &out);
    }

    json_decref(doc);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the answer depends on the caller: never shared by a cache */

    ngx_str_set(&value, "Accept");

    if (ngx_http_kafka_header_add(r, "Vary", &value) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kafka_catalog_protected(r)) {
        ngx_str_set(&value, "private, no-store");

    } else {
        ngx_str_set(&value, "no-cache");
    }

    if (ngx_http_kafka_header_add(r, "Cache-Control", &value) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kafka_send_json(r, NGX_HTTP_OK,
                                    &ngx_http_kafka_catalog_types[format],
                                    out.data, out.len);
}


static ngx_int_t
ngx_http_kafka_catalog_json(ngx_http_request_t *r, json_t *doc,
    ngx_str_t *out)
{
    char  *dump;

    dump = json_dumps(doc, JSON_INDENT(2));
    if (dump == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_strlen(dump);
    out->data = ngx_pnalloc(r->pool, out->len + 1);

    if (out->data == NULL) {
        free(dump);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, dump, out->len);
    out->data[out->len++] = '\n';
    free(dump);

    return NGX_OK;
}


/* what the caller sees: the products' topics and URLs, in their order */

static ngx_int_t
ngx_http_kafka_catalog_entries(ngx_http_request_t *r,
    const rd_kafka_metadata_t *md, ngx_array_t *entries)
{
    int                                 t;
    ngx_int_t                           rc;
    ngx_str_t                           topic;
    ngx_uint_t                          i, first, filter;
    ngx_http_kafka_catalog_entry_t     *e;
    ngx_http_kafka_catalog_product_t   *p;
    ngx_http_kafka_catalog_srv_conf_t  *kcscf;

    kcscf = ngx_http_get_module_srv_conf(r, ngx_http_kafka_catalog_module);

    filter = ngx_http_kafka_catalog_protected(r);
    p = kcscf->products.elts;

    for (i = 0; i < kcscf->products.nelts; i++) {

        if (p[i].topic.len) {
            if (ngx_http_kafka_catalog_add(r, entries, &p[i], &p[i].topic,
                                           filter)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (md == NULL) {
            continue;
        }

        first = entries->nelts;

        for (t = 0; t < md->topic_cnt; t++) {

            if (md->topics[t].err != RD_KAFKA_RESP_ERR_NO_ERROR
                || ngx_http_kafka_metadata_internal(md->topics[t].topic))
            {
                continue;
            }

            topic.data = (u_char *) md->topics[t].topic;
            topic.len = ngx_strlen(topic.data);

            if (ngx_http_kafka_topic_valid(&topic) != NGX_OK) {
                continue;
            }

            rc = ngx_http_kafka_catalog_admits(r, &p[i], &topic);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DECLINED) {
                continue;
            }

            if (ngx_http_kafka_catalog_add(r, entries, &p[i], &topic, filter)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        /* the broker's order is not stable: a product's topics by name */

        e = entries->elts;
        ngx_sort(&e[first], entries->nelts - first,
                 sizeof(ngx_http_kafka_catalog_entry_t),
                 ngx_http_kafka_catalog_cmp);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_catalog_cmp(const void *one, const void *two)
{
    const ngx_http_kafka_catalog_entry_t  *a = one;
    const ngx_http_kafka_catalog_entry_t  *b = two;

    /* NUL-terminated copies */

    return ngx_strcmp(a->topic.data, b->topic.data);
}


/*
 * A topic of the cluster belongs to a templated product if the location
 * would serve its path: the template filled in, without its query,
 * matches the location's regex.
 */

static ngx_int_t
ngx_http_kafka_catalog_admits(ngx_http_request_t *r,
    ngx_http_kafka_catalog_product_t *p, ngx_str_t *topic)
{
#if (NGX_PCRE)
    u_char     *q;
    ngx_int_t   rc;
    ngx_str_t   path;

    if (p->regex == NULL) {
        return NGX_OK;
    }

    if (ngx_http_kafka_catalog_fill(r->pool, &p->path, topic, &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    q = ngx_strlchr(path.data, path.data + path.len, '?');
    if (q) {
        path.len = q - path.data;
    }

    rc = ngx_regex_exec(p->regex->regex, &path, NULL, 0);

    if (rc == NGX_REGEX_NO_MATCHED) {
        return NGX_DECLINED;
    }

    if (rc < 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      ngx_regex_exec_n " failed: %i on \"%V\"", rc, &path);
        return NGX_ERROR;
    }
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_catalog_add(ngx_http_request_t *r, ngx_array_t *entries,
    ngx_http_kafka_catalog_product_t *p, ngx_str_t *topic, ngx_uint_t filter)
{
    ngx_int_t                        rc;
    ngx_http_kafka_catalog_entry_t  *e;

    if (filter) {
        rc = ngx_http_kafka_jwt_allowed(r, topic, p->action);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_OK;
        }
    }

    e = ngx_array_push(entries);
    if (e == NULL) {
        return NGX_ERROR;
    }

    e->product = p;

    /* metadata does not outlive the handler: the topic is copied */

    e->topic.data = ngx_pnalloc(r->pool, topic->len + 1);
    if (e->topic.data == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(e->topic.data, topic->data, topic->len) = '\0';
    e->topic.len = topic->len;

    return ngx_http_kafka_catalog_fill(r->pool, &p->path, topic, &e->path);
}


/* kafka_jwt protects the catalog: it lists what the caller's token allows */

static ngx_uint_t
ngx_http_kafka_catalog_protected(ngx_http_request_t *r)
{
    ngx_http_kafka_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_kafka_jwt_module);

    return (ctx != NULL && ctx->status == NGX_OK && ctx->payload != NULL);
}


/*
 * ?format=json|yaml|html, else the first of the known types that Accept
 * names (a browser names text/html first), else JSON.
 */

static ngx_uint_t
ngx_http_kafka_catalog_format(ngx_http_request_t *r)
{
    u_char           *p, *last, *html, *json, *yaml;
    ngx_str_t         arg;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK) {
        if (arg.len == 4 && ngx_strncmp(arg.data, "html", 4) == 0) {
            return NGX_HTTP_KAFKA_CATALOG_HTML;
        }

        if (arg.len == 4 && ngx_strncmp(arg.data, "yaml", 4) == 0) {
            return NGX_HTTP_KAFKA_CATALOG_YAML;
        }

        return NGX_HTTP_KAFKA_CATALOG_JSON;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != 6
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Accept", 6) != 0)
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        html = ngx_strlcasestrn(p, last, (u_char *) "text/html", 9 - 1);
        json = ngx_strlcasestrn(p, last, (u_char *) "application/json",
                                16 - 1);
        yaml = ngx_strlcasestrn(p, last, (u_char *) "yaml", 4 - 1);

        if (html && (json == NULL || html < json)
            && (yaml == NULL || html < yaml))
        {
            return NGX_HTTP_KAFKA_CATALOG_HTML;
        }

        if (yaml && (json == NULL || yaml < json)) {
            return NGX_HTTP_KAFKA_CATALOG_YAML;
        }

        return NGX_HTTP_KAFKA_CATALOG_JSON;
    }

    return NGX_HTTP_KAFKA_CATALOG_JSON;
}


/* every "{topic}" of a template replaced by the topic */

static ngx_int_t
ngx_http_kafka_catalog_fill(ngx_pool_t *pool, ngx_str_t *template,
    ngx_str_t *topic, ngx_str_t *out)
{
    u_char      *p, *s, *last, *q;
    size_t       len;
    ngx_uint_t   n;

    s = template->data;
    last = s + template->len;
    n = 0;

    for (p = s; p < last; p++) {
        if (*p == '{' && (size_t) (last - p) >= sizeof("{topic}") - 1
            && ngx_strncmp(p, "{topic}", sizeof("{topic}") - 1) == 0)
        {
            n++;
        }
    }

    len = template->len + n * topic->len;

    out->data = ngx_pnalloc(pool, len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    q = out->data;

    for (p = s; p < last; /* void */) {
        if (*p == '{' && (size_t) (last - p) >= sizeof("{topic}") - 1
            && ngx_strncmp(p, "{topic}", sizeof("{topic}") - 1) == 0)
        {
            q = ngx_cpymem(q, topic->data, topic->len);
            p += sizeof("{topic}") - 1;
            continue;
        }

        *q++ = *p++;
    }

    out->len = q - out->data;

    return NGX_OK;
}


static void *
ngx_http_kafka_catalog_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_catalog_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_catalog_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->catalog = 0;
     *     conf->templated = 0;
     */

    if (ngx_array_init(&conf->products, cf->pool, 4,
                       sizeof(ngx_http_kafka_catalog_product_t))
        != NGX_OK
        || ngx_array_init(&conf->left_out, cf->pool, 1, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    return conf;
}


static void *
ngx_http_kafka_catalog_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_catalog_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_catalog_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->title = { 0, NULL };
     *     conf->version = { 0, NULL };
     *     conf->description = { 0, NULL };
     *     conf->path = { 0, NULL };
     *     conf->catalog = 0;
     */

    return conf;
}


/*
 * kafka_catalog_path belongs to its location alone; the rest is
 * inherited.  Then the location, if it produces or streams, becomes a
 * product of its server (see the comment at the top).
 */

static char *
ngx_http_kafka_catalog_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_kafka_catalog_loc_conf_t *prev = parent;
    ngx_http_kafka_catalog_loc_conf_t *conf = child;

    void                               **loc_conf;
    ngx_http_conf_ctx_t                 *ctx;
    ngx_http_kafka_sse_loc_conf_t       *slcf;
    ngx_http_kafka_produce_loc_conf_t   *plcf;

    ngx_conf_merge_str_value(conf->title, prev->title, "Event products");
    ngx_conf_merge_str_value(conf->version, prev->version, "1.0.0");
    ngx_conf_merge_str_value(conf->description, prev->description, "");

    ctx = cf->ctx;
    loc_conf = ctx->loc_conf;

    plcf = loc_conf[ngx_http_kafka_produce_module.ctx_index];
    slcf = loc_conf[ngx_http_kafka_sse_module.ctx_index];

    if (plcf->topic
        && ngx_http_kafka_catalog_collect(cf, conf, plcf->topic,
                                          NGX_HTTP_KAFKA_ACTION_PRODUCE)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (slcf->topic
        && ngx_http_kafka_catalog_collect(cf, conf, slcf->topic,
                                          NGX_HTTP_KAFKA_ACTION_CONSUME)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kafka_catalog_collect(ngx_conf_t *cf,
    ngx_http_kafka_catalog_loc_conf_t *lcf, ngx_http_complex_value_t *cv,
    ngx_uint_t action)
{
    u_char                              *p;
    void                               **loc_conf;
    ngx_str_t                           *why, *template;
    ngx_uint_t                           fixed, templated, regex;
    ngx_http_conf_ctx_t                 *ctx;
    ngx_http_kafka_schema_t             *schema;
    ngx_http_kafka_asyncapi_t           *api;
    ngx_http_core_loc_conf_t            *clcf;
    ngx_http_kafka_sse_loc_conf_t       *slcf;
    ngx_http_kafka_jwt_loc_conf_t       *jlcf;
    ngx_http_kafka_produce_loc_conf_t   *plcf;
    ngx_http_kafka_catalog_product_t    *prod;
    ngx_http_kafka_catalog_srv_conf_t   *kcscf;

    ctx = cf->ctx;
    loc_conf = ctx->loc_conf;
    kcscf = ctx->srv_conf[ngx_http_kafka_catalog_module.ctx_index];
    clcf = loc_conf[ngx_http_core_module.ctx_index];

    /* a topic set in "if" or a named location has no URL of its own */

    if (clcf->noname || clcf->named) {
        return NGX_CONF_OK;
    }

    fixed = (cv->lengths == NULL);
    template = &lcf->path;
    templated = (template->len
                 && ngx_strlcasestrn(template->data,
                                     template->data + template->len,
                                     (u_char *) "{topic}", 7 - 1)
                    != NULL);

#if (NGX_PCRE)
    regex = (clcf->regex != NULL);
#else
    regex = 0;
#endif

    why = NULL;

    if (template->len == 0 && (!fixed || regex)) {
        why = ngx_array_push(&kcscf->left_out);
        p = ngx_pnalloc(cf->pool, clcf->name.len + 128);

        if (why == NULL || p == NULL) {
            return NGX_CONF_ERROR;
        }

        why->data = p;
        why->len = ngx_sprintf(p, "location \"%V\" is left out of the "
                               "catalog: its %s comes from the request, "
                               "set \"kafka_catalog_path\"", &clcf->name,
                               fixed ? "URL" : "topic")
                   - p;
        return NGX_CONF_OK;
    }

    if (!fixed && !templated) {
        why = ngx_array_push(&kcscf->left_out);
        p = ngx_pnalloc(cf->pool, clcf->name.len + 128);

        if (why == NULL || p == NULL) {
            return NGX_CONF_ERROR;
        }

        why->data = p;
        why->len = ngx_sprintf(p, "location \"%V\" is left out of the "
                               "catalog: its topic comes from the request "
                               "and \"kafka_catalog_path\" has no {topic}",
                               &clcf->name)
                   - p;
        return NGX_CONF_OK;
    }

    prod = ngx_array_push(&kcscf->products);
    if (prod == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(prod, sizeof(ngx_http_kafka_catalog_product_t));

    prod->location = clcf->name;
    prod->action = action;
    prod->path = template->len ? *template : clcf->name;

    if (fixed) {
        prod->topic = cv->value;

    } else {
        kcscf->templated = 1;
#if (NGX_PCRE)
        prod->regex = clcf->regex;
#endif
    }

    jlcf = loc_conf[ngx_http_kafka_jwt_module.ctx_index];

    prod->jwt = (jlcf->realm != NULL
                 && !(jlcf->realm->lengths == NULL
                      && jlcf->realm->value.len == 3
                      && ngx_strncmp(jlcf->realm->value.data, "off", 3)
                         == 0));

    schema = ngx_http_kafka_contract_schemas(
                 loc_conf[ngx_http_kafka_contract_module.ctx_index], &api);

    if (schema) {
        prod->schema = ngx_http_kafka_schema_json(schema, &prod->schema_doc);
    }

    prod->asyncapi = api;

    if (action == NGX_HTTP_KAFKA_ACTION_PRODUCE) {
        plcf = loc_conf[ngx_http_kafka_produce_module.ctx_index];
        prod->key = (plcf->key != NULL);

    } else {
        slcf = loc_conf[ngx_http_kafka_sse_module.ctx_index];
        prod->event = slcf->event;
        prod->format = slcf->format;
        prod->start = slcf->start;
        prod->retry = slcf->retry;
        prod->filter_key = (slcf->filter_key != NULL);
    }

    return NGX_CONF_OK;
}


/* the locations left out, warned about in the servers that have a catalog */

static ngx_int_t
ngx_http_kafka_catalog_init(ngx_conf_t *cf)
{
    ngx_str_t                          *why;
    ngx_uint_t                          s, i;
    ngx_http_core_srv_conf_t          **cscfp;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_http_kafka_catalog_srv_conf_t  *kcscf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cscfp = cmcf->servers.elts;

    for (s = 0; s < cmcf->servers.nelts; s++) {
        kcscf = cscfp[s]->ctx->srv_conf[
                                      ngx_http_kafka_catalog_module.ctx_index];

        if (!kcscf->catalog) {
            continue;
        }

        why = kcscf->left_out.elts;

        for (i = 0; i < kcscf->left_out.nelts; i++) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0, "kafka_catalog: %V",
                          &why[i]);
        }
    }

    return NGX_OK;
}


static char *
ngx_http_kafka_catalog(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_catalog_loc_conf_t *lcf = conf;

    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_kafka_catalog_srv_conf_t  *kcscf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_kafka_catalog_handler;
    lcf->catalog = 1;

    kcscf = ngx_http_conf_get_module_srv_conf(cf,
                                              ngx_http_kafka_catalog_module);
    kcscf->catalog = 1;

    return NGX_CONF_OK;
}


/*
 * A templated location lists the topics of Kafka's metadata, fetched by
 * the worker's producer: it is started where a template may be used.
 */

static char *
ngx_http_kafka_catalog_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *rv;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_kafka_metadata_use(cf);
}


/* a path of this server: "/" first, no control characters or quotes */

static char *
ngx_http_kafka_catalog_check_path(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *path = data;

    ngx_uint_t  i;

    if (path->len == 0 || path->data[0] != '/') {
        return "must start with \"/\"";
    }

    for (i = 0; i < path->len; i++) {
        if (path->data[i] <= 0x20 || path->data[i] == 0x7f
            || path->data[i] == '"' || path->data[i] == '\''
            || path->data[i] == '<' || path->data[i] == '>'
            || path->data[i] == '\\')
        {
            return "must not contain spaces, control characters, quotes, "
                   "\"<\", \">\" or \"\\\"";
        }
    }

    return NGX_CONF_OK;
}


/* the document is JSON: its texts must be UTF-8 */

static char *
ngx_http_kafka_catalog_check_text(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *text = data;

    if (!ngx_http_kafka_utf8_valid(text->data, text->len)) {
        return "must be UTF-8";
    }

    return NGX_CONF_OK;
}

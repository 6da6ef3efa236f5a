
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_jwt.h"
#include "fuzz_common.h"


static void fuzz_log_writer(ngx_log_t *log, ngx_uint_t level, u_char *buf,
    size_t len);
static void fuzz_check_bytes(const char *what, ngx_str_t *s);
static ngx_int_t fuzz_header_filter(ngx_http_request_t *r);
static ngx_int_t fuzz_body_filter(ngx_http_request_t *r, ngx_chain_t *in);
static void fuzz_check_json_error(ngx_str_t *body);
static ngx_array_t *fuzz_strings(ngx_pool_t *pool, ngx_str_t *s);
static void *fuzz_loc_conf(ngx_conf_t *cf, ngx_module_t *m);


ngx_log_t                  *fuzz_log;
fuzz_conf_t                 fuzz_conf;

static ngx_log_t            fuzz_log_instance;
static ngx_open_file_t      fuzz_log_file;
static ngx_cycle_t          fuzz_cycle;
static ngx_http_conf_ctx_t  fuzz_conf_ctx;

/* the response of the current request, seen by the filters */
static ngx_uint_t           fuzz_status;
static ngx_str_t            fuzz_body;
static ngx_uint_t           fuzz_body_done;


/*
 * The modules whose configurations a request reaches, with the context
 * indexes nginx's ngx_count_modules() would give them in a build where
 * they come first.
 */

static ngx_module_t  *fuzz_modules[] = {
    &ngx_http_core_module,
    &ngx_http_kafka_gateway_module,
    &ngx_http_kafka_produce_module,
    &ngx_http_kafka_jwt_module,
    &ngx_http_kafka_sse_module,
    NULL
};


void
fuzz_init(void)
{
    ngx_uint_t                      i, n;
    ngx_conf_t                      cf;
    ngx_pool_t                     *pool;
    ngx_http_module_t              *module;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_err_page_t            *err;
    ngx_http_kafka_jwt_key_t       *key;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_complex_value_t       *realm;
    ngx_http_kafka_loc_conf_t      *klcf;
    ngx_http_kafka_jwt_loc_conf_t  *jlcf;

    /* what ngx_os_init() and main() set in a worker */

    ngx_pagesize = getpagesize();
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;
    for (n = ngx_pagesize; n >>= 1; ngx_pagesize_shift++) { /* void */ }

    ngx_time_init();
    (void) ngx_strerror_init();

    fuzz_log_file.fd = ngx_stderr;
    fuzz_log_instance.file = &fuzz_log_file;
    fuzz_log_instance.log_level = NGX_LOG_DEBUG|NGX_LOG_DEBUG_ALL;
    fuzz_log_instance.writer = fuzz_log_writer;
    fuzz_log = &fuzz_log_instance;

    pool = ngx_create_pool(NGX_CYCLE_POOL_SIZE, fuzz_log);
    if (pool == NULL) {
        fuzz_fail("no memory");
    }

    fuzz_cycle.pool = pool;
    fuzz_cycle.log = fuzz_log;
    ngx_cycle = &fuzz_cycle;

    for (n = 0; fuzz_modules[n]; n++) {
        fuzz_modules[n]->ctx_index = n;
    }

    ngx_http_max_module = n;

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;
    cf.temp_pool = pool;
    cf.cycle = &fuzz_cycle;
    cf.log = fuzz_log;
    cf.ctx = &fuzz_conf_ctx;
    cf.module_type = NGX_HTTP_MODULE;
    cf.cmd_type = NGX_HTTP_LOC_CONF;

    fuzz_conf_ctx.main_conf = ngx_pcalloc(pool, n * sizeof(void *));
    fuzz_conf_ctx.srv_conf = ngx_pcalloc(pool, n * sizeof(void *));
    fuzz_conf_ctx.loc_conf = ngx_pcalloc(pool, n * sizeof(void *));
    if (fuzz_conf_ctx.main_conf == NULL || fuzz_conf_ctx.srv_conf == NULL
        || fuzz_conf_ctx.loc_conf == NULL)
    {
        fuzz_fail("no memory");
    }

    for (i = 0; i < n; i++) {
        module = fuzz_modules[i]->ctx;

        if (module->create_main_conf) {
            fuzz_conf_ctx.main_conf[i] = module->create_main_conf(&cf);
            if (fuzz_conf_ctx.main_conf[i] == NULL) {
                fuzz_fail("create_main_conf failed");
            }
        }
    }

    /* the core's own location configuration, as nginx leaves it unmerged */

    module = ngx_http_core_module.ctx;

    clcf = module->create_loc_conf(&cf);
    if (clcf == NULL) {
        fuzz_fail("create_loc_conf failed");
    }

    /*
     * error_page 401 403 ...: the access phase and the ACL answer with the
     * status alone and leave the request to nginx (no finalization here)
     */

    clcf->error_pages = ngx_array_create(pool, 2, sizeof(ngx_http_err_page_t));
    if (clcf->error_pages == NULL) {
        fuzz_fail("no memory");
    }

    err = ngx_array_push_n(clcf->error_pages, 2);
    if (err == NULL) {
        fuzz_fail("no memory");
    }

    ngx_memzero(err, 2 * sizeof(ngx_http_err_page_t));
    err[0].status = NGX_HTTP_UNAUTHORIZED;
    err[1].status = NGX_HTTP_FORBIDDEN;
    clcf->satisfy = NGX_HTTP_SATISFY_ALL;

    fuzz_conf_ctx.loc_conf[ngx_http_core_module.ctx_index] = clcf;

    /* the module's: created and merged by its own handlers */

    klcf = fuzz_loc_conf(&cf, &ngx_http_kafka_gateway_module);
    fuzz_conf_ctx.loc_conf[ngx_http_kafka_gateway_module.ctx_index] = klcf;

    jlcf = fuzz_loc_conf(&cf, &ngx_http_kafka_jwt_module);
    fuzz_conf_ctx.loc_conf[ngx_http_kafka_jwt_module.ctx_index] = jlcf;

    klcf->internal_topics = fuzz_conf.internal_topics;

    if (fuzz_conf.jwt_realm.len) {
        realm = ngx_pcalloc(pool, sizeof(ngx_http_complex_value_t));
        key = ngx_pcalloc(pool, sizeof(ngx_http_kafka_jwt_key_t));
        if (realm == NULL || key == NULL) {
            fuzz_fail("no memory");
        }

        realm->value = fuzz_conf.jwt_realm;
        key->type = NGX_HTTP_KAFKA_JWT_KEY_HMAC;
        key->data = fuzz_conf.jwt_secret.data;
        key->len = fuzz_conf.jwt_secret.len;

        jlcf->realm = realm;
        jlcf->key = key;
        jlcf->acl_claim = fuzz_conf.jwt_acl_claim;
        jlcf->issuers = fuzz_strings(pool, &fuzz_conf.jwt_issuer);
        jlcf->audiences = fuzz_strings(pool, &fuzz_conf.jwt_audience);
    }

    /* the access handlers that the postconfigurations register */

    cmcf = fuzz_conf_ctx.main_conf[ngx_http_core_module.ctx_index];

    if (ngx_array_init(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers, pool,
                       1, sizeof(ngx_http_handler_pt))
        != NGX_OK)
    {
        fuzz_fail("no memory");
    }

    module = ngx_http_kafka_jwt_module.ctx;

    if (module->postconfiguration(&cf) != NGX_OK) {
        fuzz_fail("postconfiguration failed");
    }

    ngx_http_top_header_filter = fuzz_header_filter;
    ngx_http_top_body_filter = fuzz_body_filter;
}


/* the first access phase handler registered (kafka_jwt's) */

ngx_http_handler_pt
fuzz_access_handler(void)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = fuzz_conf_ctx.main_conf[ngx_http_core_module.ctx_index];
    h = cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers.elts;

    return h[0];
}


static void *
fuzz_loc_conf(ngx_conf_t *cf, ngx_module_t *m)
{
    void               *parent, *conf;
    ngx_http_module_t  *module;

    module = m->ctx;

    parent = module->create_loc_conf(cf);
    conf = module->create_loc_conf(cf);

    if (parent == NULL || conf == NULL) {
        fuzz_fail("create_loc_conf failed");
    }

    if (module->merge_loc_conf(cf, parent, conf) != NGX_CONF_OK) {
        fuzz_fail("merge_loc_conf failed");
    }

    return conf;
}


static ngx_array_t *
fuzz_strings(ngx_pool_t *pool, ngx_str_t *s)
{
    ngx_str_t    *v;
    ngx_array_t  *a;

    if (s->len == 0) {
        return NULL;
    }

    a = ngx_array_create(pool, 1, sizeof(ngx_str_t));
    if (a == NULL) {
        fuzz_fail("no memory");
    }

    v = ngx_array_push(a);
    if (v == NULL) {
        fuzz_fail("no memory");
    }

    *v = *s;

    return a;
}


/*
 * A request as ngx_http_create_request() leaves it once the header is
 * read: its own pool, a connection with read and write events, empty
 * header lists, no body.
 */

ngx_http_request_t *
fuzz_request(void)
{
    ngx_pool_t          *pool;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    pool = ngx_create_pool(1024, fuzz_log);
    if (pool == NULL) {
        fuzz_fail("no memory");
    }

    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    if (c == NULL || r == NULL) {
        fuzz_fail("no memory");
    }

    c->read = ngx_pcalloc(pool, sizeof(ngx_event_t));
    c->write = ngx_pcalloc(pool, sizeof(ngx_event_t));
    if (c->read == NULL || c->write == NULL) {
        fuzz_fail("no memory");
    }

    c->fd = (ngx_socket_t) -1;
    c->pool = pool;
    c->log = fuzz_log;
    c->read->log = fuzz_log;
    c->write->log = fuzz_log;
    c->read->data = c;
    c->write->data = c;
    c->data = r;
    c->requests = 1;

    r->pool = pool;
    r->connection = c;
    r->main = r;
    r->count = 1;
    r->signature = NGX_HTTP_MODULE;
    r->method = NGX_HTTP_GET;
    r->http_version = NGX_HTTP_VERSION_11;
    r->uri_changes = NGX_HTTP_MAX_URI_CHANGES + 1;
    r->subrequests = NGX_HTTP_MAX_SUBREQUESTS + 1;

    r->main_conf = fuzz_conf_ctx.main_conf;
    r->srv_conf = fuzz_conf_ctx.srv_conf;
    r->loc_conf = fuzz_conf_ctx.loc_conf;

    r->ctx = ngx_pcalloc(pool, sizeof(void *) * ngx_http_max_module);
    if (r->ctx == NULL) {
        fuzz_fail("no memory");
    }

    if (ngx_list_init(&r->headers_in.headers, pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&r->headers_out.headers, pool, 4,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        fuzz_fail("no memory");
    }

    r->headers_in.content_length_n = -1;
    r->headers_in.keep_alive_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;

    fuzz_status = 0;
    ngx_str_null(&fuzz_body);
    fuzz_body_done = 0;

    return r;
}


void
fuzz_request_done(ngx_http_request_t *r)
{
    ngx_destroy_pool(r->pool);
}


/* a request header, as ngx_http_process_request_headers() adds it */

ngx_table_elt_t *
fuzz_header_in(ngx_http_request_t *r, char *name, u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        fuzz_fail("no memory");
    }

    h->key.len = ngx_strlen(name);
    h->key.data = (u_char *) name;
    h->value.len = len;
    h->value.data = ngx_pnalloc(r->pool, len + 1);
    h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
    if (h->value.data == NULL || h->lowcase_key == NULL) {
        fuzz_fail("no memory");
    }

    /* the header parser keeps values NUL-terminated */
    *ngx_cpymem(h->value.data, value, len) = '\0';

    ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
    h->next = NULL;

    return h;
}


ngx_uint_t
fuzz_response_status(void)
{
    return fuzz_status;
}


ngx_str_t *
fuzz_response_body(void)
{
    return &fuzz_body;
}


static ngx_int_t
fuzz_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (fuzz_status) {
        fuzz_fail("a second response header");
    }

    fuzz_status = r->headers_out.status;

    fuzz_check_bytes("status line", &r->headers_out.status_line);
    fuzz_check_bytes("content type", &r->headers_out.content_type);

    part = &r->headers_out.headers.part;
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

        if (h[i].hash == 0) {
            continue;
        }

        fuzz_check_bytes("header name", &h[i].key);
        fuzz_check_bytes("header value", &h[i].value);
    }

    r->header_sent = 1;

    return NGX_OK;
}


static ngx_int_t
fuzz_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char       *p;
    size_t        len;
    ngx_chain_t  *cl;

    if (!r->header_sent) {
        fuzz_fail("a body before the header");
    }

    len = fuzz_body.len;

    for (cl = in; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (fuzz_body.len) {
        ngx_memcpy(p, fuzz_body.data, fuzz_body.len);
    }

    fuzz_body.data = p;
    p += fuzz_body.len;

    for (cl = in; cl; cl = cl->next) {
        if (fuzz_body_done) {
            fuzz_fail("output after the last buffer");
        }

        if (ngx_buf_in_memory(cl->buf) && cl->buf->last > cl->buf->pos) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }

        if (cl->buf->last_buf || cl->buf->last_in_chain) {
            fuzz_body_done = 1;
        }
    }

    fuzz_body.len = p - fuzz_body.data;

    if (fuzz_body_done) {
        if (r->headers_out.content_length_n >= 0
            && (size_t) r->headers_out.content_length_n != fuzz_body.len)
        {
            fuzz_fail("Content-Length %O, body %uz bytes",
                      r->headers_out.content_length_n, fuzz_body.len);
        }

        if (r->headers_out.content_type.len >= sizeof("application/json") - 1
            && ngx_strncmp(r->headers_out.content_type.data,
                           "application/json",
                           sizeof("application/json") - 1)
               == 0)
        {
            fuzz_check_json_error(&fuzz_body);
        }
    }

    return NGX_OK;
}


/* the module's errors: {"error_code":NNNNN,"message":"..."} */

static void
fuzz_check_json_error(ngx_str_t *body)
{
    json_t        *root, *code, *message;
    json_error_t   err;

    root = json_loadb((char *) body->data, body->len, JSON_ALLOW_NUL, &err);

    if (root == NULL) {
        fuzz_fail("the error body is not JSON (%s): %V", err.text, body);
    }

    code = json_object_get(root, "error_code");
    message = json_object_get(root, "message");

    if (!json_is_object(root) || !json_is_integer(code)
        || json_integer_value(code) / 100 != (json_int_t) fuzz_status
        || !json_is_string(message) || json_object_size(root) != 2)
    {
        fuzz_fail("the error body has the wrong shape: %V", body);
    }

    json_decref(root);
}


static void
fuzz_check_bytes(const char *what, ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == CR || s->data[i] == LF || s->data[i] == '\0') {
            fuzz_fail("a CR, LF or NUL in a response %s: \"%V\"", what, s);
        }
    }
}


/*
 * Log lines are formatted as in a worker (the debug ones too) and then
 * dropped; FUZZ_LOG=1 writes them to stderr.
 */

static void
fuzz_log_writer(ngx_log_t *log, ngx_uint_t level, u_char *buf, size_t len)
{
    static ngx_int_t  show = -1;

    if (show == -1) {
        show = (getenv("FUZZ_LOG") != NULL);
    }

    if (show) {
        (void) ngx_write_fd(ngx_stderr, buf, len);
        (void) ngx_write_fd(ngx_stderr, "\n", 1);
    }
}


void
fuzz_fail(const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';
    fprintf(stderr, "fuzz: check failed: %s\n", msg);
    abort();
}

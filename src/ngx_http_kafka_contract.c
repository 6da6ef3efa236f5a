
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_produce.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_schema.h"
#include "ngx_http_kafka_asyncapi.h"
#include "ngx_http_kafka_status.h"
#include "ngx_http_kafka_contract.h"


/*
 * Contracts: the records of a produce request checked against JSON
 * Schemas before anything is produced (ngx_http_kafka_contract_check(),
 * called by the body handler once the body is parsed into records).
 * The schemas come from kafka_produce_schema / kafka_produce_key_schema,
 * or from the channel of the request's topic in the kafka_asyncapi
 * document; all are compiled at configuration time, nothing per request.
 *
 * "reject": any violation answers 422 (42203) with the violations, and
 * nothing of the request is produced.  "annotate": every record is
 * produced; an invalid one carries a header whose value is
 * {"errors":[...]}.  Either way nginx_kafka_validation_failures_total
 * counts the invalid records (not the requests), by topic and mode.
 */


#define NGX_HTTP_KAFKA_CONTRACT_REJECT     0
#define NGX_HTTP_KAFKA_CONTRACT_ANNOTATE   1
#define NGX_HTTP_KAFKA_CONTRACT_OFF        2


typedef struct {
    ngx_http_kafka_schema_t           *schema;
    ngx_http_kafka_schema_t           *key_schema;
    ngx_http_kafka_asyncapi_t         *asyncapi;
    ngx_uint_t                         validation;
    ngx_str_t                          header;
    ngx_uint_t                         max_errors;
    ngx_flag_t                         formats;
    ngx_flag_t                         strict;
} ngx_http_kafka_contract_loc_conf_t;


/* the schemas that apply to a value or a key; any of them may match */
typedef struct {
    ngx_http_kafka_schema_t           *one;
    ngx_http_kafka_asyncapi_channel_t *channel;
    ngx_uint_t                         key;
} ngx_http_kafka_contract_schemas_t;


/* where violations go: an "errors" array and its room */
typedef struct {
    json_t                            *errors;
    size_t                             max;
    ngx_int_t                          record;    /* -1: not written */
    const char                        *field;
    ngx_str_t                         *message;   /* of several, or NULL */
} ngx_http_kafka_contract_errors_t;


static ngx_int_t ngx_http_kafka_contract_record(
    ngx_http_kafka_contract_loc_conf_t *clcf,
    ngx_http_kafka_contract_schemas_t *schemas, u_char *data, size_t len,
    ngx_http_kafka_contract_errors_t *e);
static ngx_int_t ngx_http_kafka_contract_validate(
    ngx_http_kafka_contract_loc_conf_t *clcf, ngx_http_kafka_schema_t *schema,
    json_t *inst, ngx_http_kafka_contract_errors_t *e);
static int ngx_http_kafka_contract_error(void *data, const char *pointer,
    const char *keyword, const char *message);
static ngx_int_t ngx_http_kafka_contract_reject(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *errors, ngx_uint_t invalid,
    ngx_uint_t n);
static u_char *ngx_http_kafka_contract_dump(ngx_pool_t *pool, json_t *json,
    size_t *len);
static void *ngx_http_kafka_contract_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_contract_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_kafka_contract_schema(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_kafka_contract_asyncapi(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_kafka_contract_check_header(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_enum_t  ngx_http_kafka_contract_validation[] = {
    { ngx_string("reject"), NGX_HTTP_KAFKA_CONTRACT_REJECT },
    { ngx_string("annotate"), NGX_HTTP_KAFKA_CONTRACT_ANNOTATE },
    { ngx_string("off"), NGX_HTTP_KAFKA_CONTRACT_OFF },
    { ngx_null_string, 0 }
};


static ngx_http_kafka_bounds_t  ngx_http_kafka_contract_errors_bounds = {
    ngx_http_kafka_check_bounds, 1, 1000,
    "\"kafka_produce_validation_errors\" must be between 1 and 1000"
};


static ngx_conf_post_t  ngx_http_kafka_contract_header_post = {
    ngx_http_kafka_contract_check_header
};


static ngx_command_t  ngx_http_kafka_contract_commands[] = {

    { ngx_string("kafka_produce_schema"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_contract_schema,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, schema),
      NULL },

    { ngx_string("kafka_produce_key_schema"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_contract_schema,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, key_schema),
      NULL },

    { ngx_string("kafka_produce_validation"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, validation),
      &ngx_http_kafka_contract_validation },

    { ngx_string("kafka_produce_validation_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, header),
      &ngx_http_kafka_contract_header_post },

    { ngx_string("kafka_produce_validation_errors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, max_errors),
      &ngx_http_kafka_contract_errors_bounds },

    { ngx_string("kafka_produce_validation_formats"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, formats),
      NULL },

    { ngx_string("kafka_asyncapi"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_contract_asyncapi,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, asyncapi),
      NULL },

    { ngx_string("kafka_asyncapi_strict"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_contract_loc_conf_t, strict),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_contract_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_contract_create_loc_conf, /* create location configuration */
    ngx_http_kafka_contract_merge_loc_conf /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_contract_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_contract_module_ctx,   /* module context */
    ngx_http_kafka_contract_commands,      /* module directives */
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


/*
 * Checks the records of a parsed produce request.  NGX_DECLINED: go on
 * and produce them (annotated ones carry record->annotation); anything
 * else is the request's result, an answer sent (422, 404) or a status.
 */

ngx_int_t
ngx_http_kafka_contract_check(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_array_t *records)
{
    u_char                              *key;
    size_t                               key_len;
    ngx_int_t                            rc;
    ngx_str_t                            value;
    ngx_uint_t                           i, invalid, bad;
    json_t                              *errors, *annotation;
    ngx_http_kafka_contract_errors_t     e;
    ngx_http_kafka_asyncapi_channel_t   *ch;
    ngx_http_kafka_contract_schemas_t    vs, ks;
    ngx_http_kafka_produce_record_t     *rec;
    ngx_http_kafka_produce_loc_conf_t   *plcf;
    ngx_http_kafka_contract_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_contract_module);

    ch = NULL;

    if (clcf->asyncapi) {
        ch = ngx_http_kafka_asyncapi_channel(clcf->asyncapi, &ctx->topic);

        if (ch == NULL && clcf->strict) {
            return ngx_http_kafka_send_error(r, NGX_HTTP_NOT_FOUND,
                       NGX_HTTP_KAFKA_REST_TOPIC_NOT_FOUND,
                       "topic \"%V\" is not declared by the AsyncAPI "
                       "document", &ctx->topic);
        }
    }

    if (clcf->validation == NGX_HTTP_KAFKA_CONTRACT_OFF) {
        return NGX_DECLINED;
    }

    vs.one = clcf->schema;
    vs.channel = clcf->schema ? NULL : ch;
    vs.key = 0;

    ks.one = clcf->key_schema;
    ks.channel = clcf->key_schema ? NULL : ch;
    ks.key = 1;

    if (vs.one == NULL && ks.one == NULL && ch == NULL) {
        return NGX_DECLINED;
    }

    /* the key of records without their own: kafka_produce_key */

    key = NULL;
    key_len = 0;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_produce_module);

    if ((ks.one || ks.channel) && plcf->key) {
        if (ngx_http_complex_value(r, plcf->key, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        key = value.len ? value.data : NULL;
        key_len = value.len;
    }

    errors = json_array();
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rec = records->elts;
    invalid = 0;

    for (i = 0; i < records->nelts; i++) {

        if (clcf->validation == NGX_HTTP_KAFKA_CONTRACT_ANNOTATE) {
            json_array_clear(errors);
            e.record = -1;

        } else {
            e.record = i;
        }

        e.errors = errors;
        e.max = clcf->max_errors;
        bad = 0;

        /* a tombstone (no value) is not checked against the value schema */

        if (rec[i].value != NULL) {
            e.field = "value";
            rc = ngx_http_kafka_contract_record(clcf, &vs, rec[i].value,
                                                rec[i].value_len, &e);
            if (rc == NGX_ERROR) {
                goto failed;
            }

            bad |= (rc == NGX_DECLINED);
        }

        if (rec[i].key != NULL || key != NULL) {
            e.field = "key";
            rc = ngx_http_kafka_contract_record(clcf, &ks,
                                    rec[i].key ? rec[i].key : key,
                                    rec[i].key ? rec[i].key_len : key_len,
                                    &e);
            if (rc == NGX_ERROR) {
                goto failed;
            }

            bad |= (rc == NGX_DECLINED);
        }

        if (!bad) {
            continue;
        }

        invalid++;

        if (clcf->validation == NGX_HTTP_KAFKA_CONTRACT_REJECT) {
            continue;
        }

        annotation = json_pack("{sO}", "errors", errors);
        if (annotation == NULL) {
            goto failed;
        }

        rec[i].annotation = ngx_http_kafka_contract_dump(r->pool, annotation,
                                                    &rec[i].annotation_len);
        json_decref(annotation);

        if (rec[i].annotation == NULL) {
            goto failed;
        }

        ctx->annotation_header = &clcf->header;
    }

    if (invalid && clcf->validation == NGX_HTTP_KAFKA_CONTRACT_REJECT) {
        ngx_http_kafka_status_validation_failed(&ctx->topic,
                                        NGX_HTTP_KAFKA_STATUS_INVALID_REJECT,
                                        invalid);

        rc = ngx_http_kafka_contract_reject(r, ctx, errors, invalid,
                                            records->nelts);
        json_decref(errors);
        return rc;
    }

    if (invalid) {
        ngx_http_kafka_status_validation_failed(&ctx->topic,
                                        NGX_HTTP_KAFKA_STATUS_INVALID_ANNOTATE,
                                        invalid);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "kafka contract: %ui records of \"%V\" annotated",
                       invalid, &ctx->topic);
    }

    json_decref(errors);

    return NGX_DECLINED;

failed:

    json_decref(errors);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


ngx_http_kafka_schema_t *
ngx_http_kafka_contract_schemas(void *conf,
    ngx_http_kafka_asyncapi_t **asyncapi)
{
    ngx_http_kafka_contract_loc_conf_t  *clcf = conf;

    *asyncapi = clcf->asyncapi;

    return clcf->schema;
}


/*
 * A record's value or key, parsed as JSON, against the schemas that apply:
 * NGX_OK when one matches, NGX_DECLINED with the violations noted.
 */

static ngx_int_t
ngx_http_kafka_contract_record(ngx_http_kafka_contract_loc_conf_t *clcf,
    ngx_http_kafka_contract_schemas_t *schemas, u_char *data, size_t len,
    ngx_http_kafka_contract_errors_t *e)
{
    char                                msg[256];
    json_t                             *inst;
    ngx_int_t                           rc;
    ngx_uint_t                          i, n;
    json_error_t                        jerr;
    ngx_http_kafka_schema_t            *s;
    ngx_http_kafka_asyncapi_message_t  *m;

    m = NULL;
    n = 1;

    if (schemas->one == NULL) {
        if (schemas->channel == NULL) {
            return NGX_OK;
        }

        m = schemas->channel->messages.elts;
        n = schemas->channel->messages.nelts;

        /* a message without a schema accepts anything */
        for (i = 0; i < n; i++) {
            if ((schemas->key ? m[i].key : m[i].payload) == NULL) {
                return NGX_OK;
            }
        }
    }

    inst = json_loadb((char *) data, len, JSON_DECODE_ANY|JSON_ALLOW_NUL,
                      &jerr);

    if (inst == NULL) {
        ngx_snprintf((u_char *) msg, sizeof(msg),
                     "not JSON: %s at line %d, column %d%Z", jerr.text,
                     jerr.line, jerr.column);
        e->message = NULL;
        (void) ngx_http_kafka_contract_error(e, "", "json", msg);
        return NGX_DECLINED;
    }

    if (m == NULL) {
        e->message = NULL;
        rc = ngx_http_kafka_contract_validate(clcf, schemas->one, inst, e);
        json_decref(inst);
        return rc;
    }

    /* several messages: valid if any matches, else the violations of each */

    for (i = 0; i < n; i++) {
        s = schemas->key ? m[i].key : m[i].payload;

        if (ngx_http_kafka_schema_validate(s, inst, clcf->formats, 0, NULL,
                                           NULL))
        {
            json_decref(inst);
            return NGX_OK;
        }
    }

    for (i = 0; i < n; i++) {
        e->message = (n > 1) ? &m[i].name : NULL;
        (void) ngx_http_kafka_contract_validate(clcf,
                           schemas->key ? m[i].key : m[i].payload, inst, e);
    }

    json_decref(inst);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_kafka_contract_validate(ngx_http_kafka_contract_loc_conf_t *clcf,
    ngx_http_kafka_schema_t *schema, json_t *inst,
    ngx_http_kafka_contract_errors_t *e)
{
    size_t  room;

    room = json_array_size(e->errors) < e->max
           ? e->max - json_array_size(e->errors) : 0;

    return ngx_http_kafka_schema_validate(schema, inst, clcf->formats, room,
                                          room ? ngx_http_kafka_contract_error
                                               : NULL,
                                          e)
           ? NGX_OK : NGX_DECLINED;
}


/* one entry of "errors": {"record", "field", "pointer", "keyword", ...} */

static int
ngx_http_kafka_contract_error(void *data, const char *pointer,
    const char *keyword, const char *message)
{
    ngx_http_kafka_contract_errors_t *e = data;

    json_t  *entry;
    u_char   buf[600];

    if (json_array_size(e->errors) >= e->max) {
        return 1;
    }

    if (e->message != NULL) {
        ngx_snprintf(buf, sizeof(buf), "%V: %s%Z", e->message, message);
        message = (char *) buf;
    }

    entry = json_pack("{ssssssss}", "field", e->field, "pointer", pointer,
                      "keyword", keyword, "message", message);

    if (entry == NULL) {
        return 1;
    }

    if (e->record >= 0) {
        json_object_set_new(entry, "record", json_integer(e->record));
    }

    json_array_append_new(e->errors, entry);

    return json_array_size(e->errors) >= e->max;
}


/* 422 (42203): the violations, and nothing was produced */

static ngx_int_t
ngx_http_kafka_contract_reject(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *errors, ngx_uint_t invalid,
    ngx_uint_t n)
{
    u_char  *body, msg[NGX_MAX_ERROR_STR], *p;
    size_t   len;
    json_t  *answer;

    p = ngx_snprintf(msg, sizeof(msg) - 1, "%ui of %ui record%s not match "
                     "the contract of topic \"%V\"; nothing was produced",
                     invalid, n, (n == 1) ? " does" : "s do", &ctx->topic);
    *p = '\0';

    answer = json_pack("{sisssO}", "error_code",
                       (int) NGX_HTTP_KAFKA_REST_CONTRACT_VIOLATED,
                       "message", (char *) msg, "errors", errors);
    if (answer == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body = ngx_http_kafka_contract_dump(r->pool, answer, &len);
    json_decref(answer);

    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "kafka_produce: %s", msg);

    return ngx_http_kafka_send_json(r, NGX_HTTP_KAFKA_UNPROCESSABLE, NULL,
                                    body, len);
}


/* compact JSON in request memory; control characters are escaped */

static u_char *
ngx_http_kafka_contract_dump(ngx_pool_t *pool, json_t *json, size_t *len)
{
    u_char  *p;
    size_t   size;

    size = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (size == 0) {
        return NULL;
    }

    p = ngx_pnalloc(pool, size);
    if (p == NULL) {
        return NULL;
    }

    *len = json_dumpb(json, (char *) p, size, JSON_COMPACT);

    return p;
}


static void *
ngx_http_kafka_contract_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_contract_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_contract_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->header = { 0, NULL };
     */

    conf->schema = NGX_CONF_UNSET_PTR;
    conf->key_schema = NGX_CONF_UNSET_PTR;
    conf->asyncapi = NGX_CONF_UNSET_PTR;
    conf->validation = NGX_CONF_UNSET_UINT;
    conf->max_errors = NGX_CONF_UNSET_UINT;
    conf->formats = NGX_CONF_UNSET;
    conf->strict = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_kafka_contract_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_kafka_contract_loc_conf_t *prev = parent;
    ngx_http_kafka_contract_loc_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->schema, prev->schema, NULL);
    ngx_conf_merge_ptr_value(conf->key_schema, prev->key_schema, NULL);
    ngx_conf_merge_ptr_value(conf->asyncapi, prev->asyncapi, NULL);
    ngx_conf_merge_uint_value(conf->validation, prev->validation,
                              NGX_HTTP_KAFKA_CONTRACT_REJECT);
    ngx_conf_merge_str_value(conf->header, prev->header,
                             "kafka-gateway-validation-errors");
    ngx_conf_merge_uint_value(conf->max_errors, prev->max_errors, 10);
    ngx_conf_merge_value(conf->formats, prev->formats, 0);
    ngx_conf_merge_value(conf->strict, prev->strict, 0);

    return NGX_CONF_OK;
}


/* kafka_produce_schema, kafka_produce_key_schema: compiled now */

static char *
ngx_http_kafka_contract_schema(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                 *value, file;
    ngx_http_kafka_schema_t  **field;

    field = (ngx_http_kafka_schema_t **) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *field = ngx_http_kafka_asyncapi_schema(cf, &file);

    return *field ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static char *
ngx_http_kafka_contract_asyncapi(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kafka_contract_loc_conf_t *clcf = conf;

    ngx_str_t  *value, file;

    if (clcf->asyncapi != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf->asyncapi = ngx_http_kafka_asyncapi_load(cf, &file);

    return clcf->asyncapi ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* a Kafka header name: printable ASCII, no spaces */

static char *
ngx_http_kafka_contract_check_header(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *name = data;

    ngx_uint_t  i;

    if (name->len == 0) {
        return "requires a header name";
    }

    for (i = 0; i < name->len; i++) {
        if (name->data[i] <= 0x20 || name->data[i] >= 0x7f) {
            return "must be printable ASCII without spaces";
        }
    }

    return NGX_CONF_OK;
}

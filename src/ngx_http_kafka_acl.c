
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <jwt.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_jwt.h"
#include "ngx_http_kafka_acl.h"
#include "ngx_http_kafka_status.h"


static ngx_int_t ngx_http_kafka_jwt_acl_allows(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *topic,
    ngx_uint_t action);
static ngx_int_t ngx_http_kafka_jwt_acl_grants(u_char *p, u_char *last,
    ngx_str_t *topic, ngx_uint_t action);
static ngx_int_t ngx_http_kafka_jwt_acl_grant(u_char *p, u_char *last,
    ngx_str_t *topic, ngx_uint_t action);
static ngx_int_t ngx_http_kafka_jwt_glob(u_char *p, u_char *plast,
    u_char *s, u_char *slast);


/*
 * Called by the content handlers once the topic is evaluated and valid.
 * Returns NGX_OK if the request may go on; otherwise the request has been
 * answered (403, or nginx's error_page for 403) and the caller returns
 * the value from its content handler as it is.
 */

ngx_int_t
ngx_http_kafka_jwt_authorize(ngx_http_request_t *r, ngx_str_t *topic,
    ngx_uint_t action)
{
    ngx_int_t                       rc;
    const char                     *verb;
    ngx_http_kafka_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_jwt_module);

    if (jlcf->acl_claim.len == 0) {
        return NGX_OK;
    }

    rc = ngx_http_kafka_jwt_acl_allows(r, jlcf, topic, action);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (action) {

    case NGX_HTTP_KAFKA_ACTION_PRODUCE:
        verb = "produce to";
        break;

    case NGX_HTTP_KAFKA_ACTION_CONSUME:
        verb = "consume from";
        break;

    default:
        verb = "produce to or consume from";
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "kafka acl: not authorized to %s topic \"%V\"",
                  verb, topic);

    ngx_http_kafka_status_acl_rejected();

    if (ngx_http_kafka_jwt_error_page(r, NGX_HTTP_FORBIDDEN) == NGX_OK) {
        return NGX_HTTP_FORBIDDEN;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_kafka_send_error(r, NGX_HTTP_FORBIDDEN,
                                   NGX_HTTP_KAFKA_REST_NOT_AUTHORIZED,
                                   "not authorized to %s topic \"%V\"", verb,
                                   topic);

    if (rc != NGX_OK && rc != NGX_AGAIN) {
        return rc;
    }

    /*
     * The answer is sent (or being sent).  It is finalized here, under a
     * reference of its own, so that the caller can return NGX_DONE, which
     * can never be mistaken for NGX_OK; the content phase releases that
     * reference when the caller returns.
     */

    r->main->count++;
    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The same decision without an answer, for handlers that list topics
 * (kafka_metadata, the catalog): NGX_OK if the location has no
 * kafka_acl_claim or the token's grants allow the action on the topic,
 * NGX_DECLINED if not, NGX_ERROR on an internal error.
 */

ngx_int_t
ngx_http_kafka_jwt_allowed(ngx_http_request_t *r, ngx_str_t *topic,
    ngx_uint_t action)
{
    ngx_http_kafka_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_jwt_module);

    if (jlcf->acl_claim.len == 0) {
        return NGX_OK;
    }

    return ngx_http_kafka_jwt_acl_allows(r, jlcf, topic, action);
}


/*
 * NGX_OK if the grants in the ACL claim of the verified token allow the
 * action (any of the NGX_HTTP_KAFKA_ACTION_* bits) on the topic,
 * NGX_DECLINED if not (or if there is no verified token), NGX_ERROR on an
 * internal error.
 */

static ngx_int_t
ngx_http_kafka_jwt_acl_allows(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *topic,
    ngx_uint_t action)
{
    u_char                    *p;
    size_t                     i;
    json_t                    *claim, *value;
    ngx_http_kafka_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_kafka_jwt_module);

    if (ctx == NULL || ctx->payload == NULL) {
        return NGX_DECLINED;
    }

    /* NUL-terminated: it is a configuration token */

    claim = json_object_get(ctx->payload, (char *) jlcf->acl_claim.data);

    if (json_is_string(claim)) {
        p = (u_char *) json_string_value(claim);
        return ngx_http_kafka_jwt_acl_grants(p, p + json_string_length(claim),
                                             topic, action);
    }

    if (json_is_array(claim)) {
        json_array_foreach(claim, i, value) {
            if (!json_is_string(value)) {
                continue;
            }

            p = (u_char *) json_string_value(value);

            if (ngx_http_kafka_jwt_acl_grants(p,
                                              p + json_string_length(value),
                                              topic, action)
                == NGX_OK)
            {
                return NGX_OK;
            }
        }
    }

    return NGX_DECLINED;
}


/* a space-separated list of grants, as in an OAuth "scope" */

static ngx_int_t
ngx_http_kafka_jwt_acl_grants(u_char *p, u_char *last, ngx_str_t *topic,
    ngx_uint_t action)
{
    u_char  *start;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        start = p;

        while (p < last && *p != ' ' && *p != '\t') {
            p++;
        }

        if (p > start
            && ngx_http_kafka_jwt_acl_grant(start, p, topic, action) == NGX_OK)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * One grant: "kafka:produce:PATTERN" or "kafka:consume:PATTERN", where
 * PATTERN is a topic name in which "*" matches any run of characters.
 * Anything else (other scopes, bad patterns) grants nothing.
 */

static ngx_int_t
ngx_http_kafka_jwt_acl_grant(u_char *p, u_char *last, ngx_str_t *topic,
    ngx_uint_t action)
{
    u_char  *q;

    if (last - p > (ssize_t) sizeof("kafka:produce:") - 1
        && ngx_strncmp(p, "kafka:produce:", sizeof("kafka:produce:") - 1)
           == 0)
    {
        if (!(action & NGX_HTTP_KAFKA_ACTION_PRODUCE)) {
            return NGX_DECLINED;
        }

        p += sizeof("kafka:produce:") - 1;

    } else if (last - p > (ssize_t) sizeof("kafka:consume:") - 1
               && ngx_strncmp(p, "kafka:consume:",
                              sizeof("kafka:consume:") - 1)
                  == 0)
    {
        if (!(action & NGX_HTTP_KAFKA_ACTION_CONSUME)) {
            return NGX_DECLINED;
        }

        p += sizeof("kafka:consume:") - 1;

    } else {
        return NGX_DECLINED;
    }

    for (q = p; q < last; q++) {
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')
              || (*q >= '0' && *q <= '9') || *q == '.' || *q == '_'
              || *q == '-' || *q == '*'))
        {
            return NGX_DECLINED;
        }
    }

    return ngx_http_kafka_jwt_glob(p, last, topic->data,
                                   topic->data + topic->len);
}


/* "*" matches any run of characters; linear thanks to one backtrack point */

static ngx_int_t
ngx_http_kafka_jwt_glob(u_char *p, u_char *plast, u_char *s, u_char *slast)
{
    u_char  *star, *mark;

    star = NULL;
    mark = NULL;

    while (s < slast) {

        if (p < plast && *p == '*') {
            star = ++p;
            mark = s;
            continue;
        }

        if (p < plast && *p == *s) {
            p++;
            s++;
            continue;
        }

        if (star == NULL) {
            return NGX_DECLINED;
        }

        p = star;
        s = ++mark;
    }

    while (p < plast && *p == '*') {
        p++;
    }

    return (p == plast) ? NGX_OK : NGX_DECLINED;
}


/*
 * $kafka_acl_produce and $kafka_acl_consume: "1" if the request's
 * verified token (or the absence of kafka_acl_claim) allows the action on
 * the topic that kafka_acl_topic evaluates to, "0" if not; not found
 * without kafka_acl_topic.
 */

ngx_int_t
ngx_http_kafka_jwt_acl_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_int_t                       rc;
    ngx_str_t                       topic;
    ngx_http_kafka_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_jwt_module);

    if (jlcf->acl_topic == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_complex_value(r, jlcf->acl_topic, &topic) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_kafka_topic_valid(&topic) != NGX_OK) {
        rc = NGX_DECLINED;

    } else if (jlcf->acl_claim.len == 0) {
        rc = NGX_OK;

    } else {
        rc = ngx_http_kafka_jwt_acl_allows(r, jlcf, &topic, data);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    v->data = (u_char *) ((rc == NGX_OK) ? "1" : "0");
    v->len = 1;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}

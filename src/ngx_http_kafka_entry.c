
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_acl.h"


/*
 * The common entry of every content handler, in this order: the method
 * (405 with Allow), subrequests (if the handler serves only main
 * requests), the request body (discarded if the handler reads none), the
 * topic (evaluated, then refused with 400 if invalid or internal), and
 * the token's grants for the topic (403).
 *
 * NGX_DECLINED: the handler goes on, and "topic" is a copy in the request
 * pool, NUL-terminated for librdkafka (the evaluated value may point into
 * a buffer of someone else's).  Anything else, NGX_OK included (an answer
 * sent in full), is returned from the content handler as it is.
 */

ngx_int_t
ngx_http_kafka_entry(ngx_http_request_t *r, ngx_http_kafka_entry_t *entry,
    ngx_http_complex_value_t *cv, ngx_str_t *topic)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   value;

    if (!(r->method & entry->methods)) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_kafka_header_add(r, "Allow", &entry->allow) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_kafka_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                         NGX_HTTP_KAFKA_REST_METHOD_NOT_ALLOWED,
                                         "method %V is not allowed, %s",
                                         &r->method_name, entry->use);
    }

    if (entry->main_only && r != r->main) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "%s cannot serve a subrequest", entry->directive);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (entry->discard_body) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* a handler without a topic (kafka_status, kafka_health) */

    if (cv == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, cv, &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kafka_topic_allowed(r, cv, &value) != NGX_OK) {
        return ngx_http_kafka_topic_refuse(r, &value);
    }

    rc = ngx_http_kafka_jwt_authorize(r, &value, entry->action);
    if (rc != NGX_OK) {
        return rc;
    }

    p = ngx_pnalloc(r->pool, value.len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_cpymem(p, value.data, value.len) = '\0';

    topic->data = p;
    topic->len = value.len;

    return NGX_DECLINED;
}

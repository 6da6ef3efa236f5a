
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_ACL_H_INCLUDED_
#define _NGX_HTTP_KAFKA_ACL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"


/*
 * Per-topic authorization from the verified token.
 * Content handlers call it once the topic is evaluated and valid, before
 * reading the body, taking a reference or sending anything; any result
 * but NGX_OK is returned from the content handler as it is (the request
 * has been answered, or is to be answered with that status).
 */
ngx_int_t ngx_http_kafka_jwt_authorize(ngx_http_request_t *r,
    ngx_str_t *topic, ngx_uint_t action);

/*
 * The same decision without an answer (NGX_OK, NGX_DECLINED, NGX_ERROR),
 * for handlers that list topics.  In both, "action" is a mask of
 * NGX_HTTP_KAFKA_ACTION_* bits: a grant for any of them allows.
 */
ngx_int_t ngx_http_kafka_jwt_allowed(ngx_http_request_t *r,
    ngx_str_t *topic, ngx_uint_t action);

ngx_int_t ngx_http_kafka_jwt_acl_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* _NGX_HTTP_KAFKA_ACL_H_INCLUDED_ */

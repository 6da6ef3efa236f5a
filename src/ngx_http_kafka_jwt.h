
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_JWT_H_INCLUDED_
#define _NGX_HTTP_KAFKA_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <jwt.h>


/*
 * What the JWT files share: the verifier and its configuration
 * (ngx_http_kafka_jwt_module.c), the keys (ngx_http_kafka_jwt_key.c) and
 * the per-topic grants (ngx_http_kafka_acl.c).
 */


#define NGX_HTTP_KAFKA_JWT_KEY_AUTO    0
#define NGX_HTTP_KAFKA_JWT_KEY_HMAC    1
#define NGX_HTTP_KAFKA_JWT_KEY_RSA     2
#define NGX_HTTP_KAFKA_JWT_KEY_EC      3


typedef struct {
    ngx_uint_t                  type;

    /* for an EC key, the one algorithm its curve signs */
    jwt_alg_t                   ec_alg;

    /* the secret, or the public key re-encoded as a PEM "PUBLIC KEY" */
    u_char                     *data;
    size_t                      len;
} ngx_http_kafka_jwt_key_t;


typedef struct {
    ngx_http_complex_value_t   *realm;
    ngx_http_complex_value_t   *token;
    ngx_str_t                   key_file;
    ngx_uint_t                  key_type;
    ngx_http_kafka_jwt_key_t   *key;
    time_t                      leeway;
    ngx_array_t                *issuers;       /* ngx_str_t */
    ngx_array_t                *audiences;     /* ngx_str_t */
    ngx_flag_t                  require_exp;
    size_t                      max_size;

    ngx_str_t                   acl_claim;
    ngx_http_complex_value_t   *acl_topic;
} ngx_http_kafka_jwt_loc_conf_t;


typedef struct {
    /* a verified token's header and claims, or NULL */
    json_t                     *header;
    json_t                     *payload;

    /* the access decision once made: NGX_OK or an HTTP status */
    ngx_int_t                   status;
} ngx_http_kafka_jwt_ctx_t;


ngx_int_t ngx_http_kafka_jwt_error_page(ngx_http_request_t *r,
    ngx_uint_t status);

/* ngx_http_kafka_jwt_key.c */
ngx_http_kafka_jwt_key_t *ngx_http_kafka_jwt_load_key(ngx_conf_t *cf,
    ngx_str_t *file, ngx_uint_t type);


#endif /* _NGX_HTTP_KAFKA_JWT_H_INCLUDED_ */

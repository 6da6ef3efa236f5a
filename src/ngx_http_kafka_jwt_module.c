
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


/*
 * What is verified, in this order, before a request passes the access
 * phase (ngx_http_kafka_jwt_verify):
 *
 * 1. size and shape: at most kafka_jwt_max_size bytes, exactly three
 *    non-empty base64url segments and nothing else (libjwt's decoder
 *    skips bytes it does not know, so this is checked here);
 * 2. the header, decoded here: a JSON object whose "alg" belongs to the
 *    family of the configured key (HS* for a secret, RS* for an RSA key,
 *    the ES* of the key's curve for an EC key), no "crit", "typ" JWT if
 *    present.  This is what stops "none" and the HS256-with-the-public-key
 *    confusion: libjwt 1.10 uses whatever key it is given as an HMAC
 *    secret if the token asks for HS256;
 * 3. the payload, decoded here: a JSON object;
 * 4. the signature, by libjwt (jwt_decode) over the same encoded bytes,
 *    and the algorithm libjwt used is compared with the one checked in 2;
 * 5. the registered claims: types of iss/sub/aud/exp/nbf/iat/jti, exp
 *    (required unless kafka_jwt_require_exp is off) and nbf with
 *    kafka_jwt_leeway, iss and aud against kafka_jwt_issuer/_audience.
 *
 * The claims are read from the payload decoded in 3 rather than through
 * libjwt's getters: the signature covers the encoded segment, so both
 * decodings are equally trusted once 4 has passed, and jansson keeps the
 * JSON types that the getters flatten (numbers, arrays, embedded NULs).
 *
 * The decoded header and payload live in the context of r->main, so
 * subrequests (auth_request, mirror) see the same claims, and are freed
 * by a cleanup of the request pool.  Nothing from a token that failed
 * verification is kept.
 */


typedef struct {
    ngx_str_t                   name;
    jwt_alg_t                   alg;
    ngx_uint_t                  key_type;
    size_t                      min_secret;
} ngx_http_kafka_jwt_alg_t;


static ngx_int_t ngx_http_kafka_jwt_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_jwt_get_token(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *token);
static const char *ngx_http_kafka_jwt_verify(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *token,
    ngx_http_kafka_jwt_ctx_t *ctx);
static const char *ngx_http_kafka_jwt_check_shape(
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *token, u_char **dot);
static const char *ngx_http_kafka_jwt_check_signature(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *token, jwt_alg_t alg,
    ngx_http_kafka_jwt_ctx_t *ctx);
static json_t *ngx_http_kafka_jwt_decode_segment(ngx_http_request_t *r,
    u_char *data, size_t len);
static const char *ngx_http_kafka_jwt_check_alg(
    ngx_http_kafka_jwt_key_t *key, json_t *header, jwt_alg_t *alg);
static const char *ngx_http_kafka_jwt_check_claims(
    ngx_http_kafka_jwt_loc_conf_t *jlcf, json_t *payload);
static ngx_int_t ngx_http_kafka_jwt_match_string(json_t *value,
    ngx_array_t *allowed);
static ngx_int_t ngx_http_kafka_jwt_reject(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *realm,
    const char *reason);
static ngx_int_t ngx_http_kafka_jwt_challenge(ngx_http_request_t *r,
    ngx_str_t *realm, const char *reason);
static ngx_http_kafka_jwt_ctx_t *ngx_http_kafka_jwt_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_kafka_jwt_cleanup(void *data);
static ngx_int_t ngx_http_kafka_jwt_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_kafka_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kafka_jwt_json_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, json_t *object, u_char *name, size_t len);
static void *ngx_http_kafka_jwt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_jwt_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_kafka_jwt_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_kafka_jwt_key_types[] = {
    { ngx_string("hmac"), NGX_HTTP_KAFKA_JWT_KEY_HMAC },
    { ngx_string("rsa"), NGX_HTTP_KAFKA_JWT_KEY_RSA },
    { ngx_string("ec"), NGX_HTTP_KAFKA_JWT_KEY_EC },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_kafka_jwt_commands[] = {

    { ngx_string("kafka_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF
                        |NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, realm),
      NULL },

    { ngx_string("kafka_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, key_file),
      NULL },

    { ngx_string("kafka_jwt_key_type"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, key_type),
      &ngx_http_kafka_jwt_key_types },

    { ngx_string("kafka_jwt_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, token),
      NULL },

    { ngx_string("kafka_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, leeway),
      NULL },

    { ngx_string("kafka_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, issuers),
      NULL },

    { ngx_string("kafka_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, audiences),
      NULL },

    { ngx_string("kafka_jwt_require_exp"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, require_exp),
      NULL },

    { ngx_string("kafka_jwt_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, max_size),
      NULL },

    { ngx_string("kafka_acl_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, acl_claim),
      NULL },

    { ngx_string("kafka_acl_topic"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_jwt_loc_conf_t, acl_topic),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_jwt_module_ctx = {
    ngx_http_kafka_jwt_add_variables,      /* preconfiguration */
    ngx_http_kafka_jwt_init,               /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_jwt_create_loc_conf,    /* create location configuration */
    ngx_http_kafka_jwt_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_jwt_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_jwt_module_ctx,        /* module context */
    ngx_http_kafka_jwt_commands,           /* module directives */
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


static ngx_http_variable_t  ngx_http_kafka_jwt_vars[] = {

    { ngx_string("jwt_claim_"), NULL, ngx_http_kafka_jwt_claim_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("jwt_header_"), NULL, ngx_http_kafka_jwt_claim_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("kafka_acl_produce"), NULL, ngx_http_kafka_jwt_acl_variable,
      NGX_HTTP_KAFKA_ACTION_PRODUCE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kafka_acl_consume"), NULL, ngx_http_kafka_jwt_acl_variable,
      NGX_HTTP_KAFKA_ACTION_CONSUME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_kafka_jwt_alg_t  ngx_http_kafka_jwt_algs[] = {
    { ngx_string("HS256"), JWT_ALG_HS256, NGX_HTTP_KAFKA_JWT_KEY_HMAC, 32 },
    { ngx_string("HS384"), JWT_ALG_HS384, NGX_HTTP_KAFKA_JWT_KEY_HMAC, 48 },
    { ngx_string("HS512"), JWT_ALG_HS512, NGX_HTTP_KAFKA_JWT_KEY_HMAC, 64 },
    { ngx_string("RS256"), JWT_ALG_RS256, NGX_HTTP_KAFKA_JWT_KEY_RSA, 0 },
    { ngx_string("RS384"), JWT_ALG_RS384, NGX_HTTP_KAFKA_JWT_KEY_RSA, 0 },
    { ngx_string("RS512"), JWT_ALG_RS512, NGX_HTTP_KAFKA_JWT_KEY_RSA, 0 },
    { ngx_string("ES256"), JWT_ALG_ES256, NGX_HTTP_KAFKA_JWT_KEY_EC, 0 },
    { ngx_string("ES384"), JWT_ALG_ES384, NGX_HTTP_KAFKA_JWT_KEY_EC, 0 },
    { ngx_string("ES512"), JWT_ALG_ES512, NGX_HTTP_KAFKA_JWT_KEY_EC, 0 },
    { ngx_null_string, JWT_ALG_NONE, 0, 0 }
};


static ngx_int_t
ngx_http_kafka_jwt_handler(ngx_http_request_t *r)
{
    ngx_str_t                       realm, token;
    const char                     *reason;
    ngx_http_kafka_jwt_ctx_t       *ctx;
    ngx_http_kafka_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_jwt_module);

    if (jlcf->realm == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, jlcf->realm, &realm) != NGX_OK) {
        return NGX_ERROR;
    }

    if (realm.len == 3 && ngx_strncmp(realm.data, "off", 3) == 0) {
        return NGX_DECLINED;
    }

    if (jlcf->key == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kafka_jwt is on but no key is configured");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_kafka_jwt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /* the phase may run again (e.g. after an auth_request subrequest) */

    if (ctx->status != 0) {
        return ctx->status;
    }

    if (ngx_http_kafka_jwt_get_token(r, jlcf, &token) != NGX_OK) {
        return NGX_ERROR;
    }

    if (token.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kafka jwt: no bearer token was provided");

        ctx->status = NGX_HTTP_UNAUTHORIZED;
        ngx_http_kafka_status_jwt_rejected(NULL);
        return ngx_http_kafka_jwt_reject(r, jlcf, &realm, NULL);
    }

    reason = ngx_http_kafka_jwt_verify(r, jlcf, &token, ctx);

    if (reason == NULL) {
        ctx->status = NGX_OK;
        return NGX_OK;
    }

    if (ctx->status == NGX_ERROR) {
        ctx->status = 0;
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "kafka jwt: token rejected: %s", reason);

    ctx->status = NGX_HTTP_UNAUTHORIZED;
    ngx_http_kafka_status_jwt_rejected(reason);
    return ngx_http_kafka_jwt_reject(r, jlcf, &realm, reason);
}


/*
 * The token is the value of kafka_jwt_token if set, else the credentials
 * of an "Authorization: Bearer" header.  An empty result means no token.
 */

static ngx_int_t
ngx_http_kafka_jwt_get_token(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *token)
{
    u_char  *p, *last;

    if (jlcf->token) {
        return ngx_http_complex_value(r, jlcf->token, token);
    }

    ngx_str_null(token);

    if (r->headers_in.authorization == NULL) {
        return NGX_OK;
    }

    p = r->headers_in.authorization->value.data;
    last = p + r->headers_in.authorization->value.len;

    if (last - p < (ssize_t) sizeof("Bearer ") - 1
        || ngx_strncasecmp(p, (u_char *) "Bearer ", sizeof("Bearer ") - 1)
           != 0)
    {
        return NGX_OK;
    }

    p += sizeof("Bearer ") - 1;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    token->data = p;
    token->len = last - p;

    return NGX_OK;
}


/*
 * Returns NULL if the token is valid (its header and claims are then in
 * ctx), or the reason it is not, a constant string that is safe in a
 * quoted-string and in JSON.  On an internal error ctx->status is set to
 * NGX_ERROR.
 */

static const char *
ngx_http_kafka_jwt_verify(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *token,
    ngx_http_kafka_jwt_ctx_t *ctx)
{
    u_char      *dot[2];
    json_t      *header, *payload;
    jwt_alg_t    alg;
    const char  *reason;

    reason = ngx_http_kafka_jwt_check_shape(jlcf, token, dot);
    if (reason) {
        return reason;
    }

    header = NULL;
    payload = NULL;

    header = ngx_http_kafka_jwt_decode_segment(r, token->data,
                                               dot[0] - token->data);
    if (header == NULL) {
        reason = "the token header is not a JSON object";
        goto failed;
    }

    reason = ngx_http_kafka_jwt_check_alg(jlcf->key, header, &alg);
    if (reason) {
        goto failed;
    }

    payload = ngx_http_kafka_jwt_decode_segment(r, dot[0] + 1,
                                                dot[1] - dot[0] - 1);
    if (payload == NULL) {
        reason = "the token payload is not a JSON object";
        goto failed;
    }

    reason = ngx_http_kafka_jwt_check_signature(r, jlcf, token, alg, ctx);
    if (reason) {
        goto failed;
    }

    reason = ngx_http_kafka_jwt_check_claims(jlcf, payload);
    if (reason) {
        goto failed;
    }

    /* a token verified earlier in this request (before a redirect) */

    if (ctx->header) {
        json_decref(ctx->header);
    }

    if (ctx->payload) {
        json_decref(ctx->payload);
    }

    ctx->header = header;
    ctx->payload = payload;

    return NULL;

failed:

    if (header) {
        json_decref(header);
    }

    if (payload) {
        json_decref(payload);
    }

    return reason;
}


/*
 * Step 1: the size, and three non-empty base64url segments, none of a
 * length base64 cannot have; "dot" gets the two separators.
 */

static const char *
ngx_http_kafka_jwt_check_shape(ngx_http_kafka_jwt_loc_conf_t *jlcf,
    ngx_str_t *token, u_char **dot)
{
    u_char      *p, *last;
    ngx_uint_t   ndots;

    static u_char  b64url[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    if (token->len > jlcf->max_size) {
        return "the token is too large";
    }

    ndots = 0;
    dot[0] = NULL;
    dot[1] = NULL;
    last = token->data + token->len;

    for (p = token->data; p < last; p++) {
        if (*p == '.') {
            if (ndots == 2) {
                return "the token is malformed";
            }

            dot[ndots++] = p;
            continue;
        }

        if (ngx_strlchr(b64url, b64url + sizeof(b64url) - 1, *p) == NULL) {
            return "the token is malformed";
        }
    }

    if (ndots != 2
        || dot[0] == token->data
        || dot[1] == dot[0] + 1
        || dot[1] + 1 == last
        || (dot[0] - token->data) % 4 == 1
        || (dot[1] - dot[0] - 1) % 4 == 1
        || (last - dot[1] - 1) % 4 == 1)
    {
        return "the token is malformed";
    }

    return NULL;
}


/*
 * Step 4: libjwt checks the signature over the same encoded bytes, with
 * the algorithm checked in step 2.  An internal error sets ctx->status.
 */

static const char *
ngx_http_kafka_jwt_check_signature(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *token, jwt_alg_t alg,
    ngx_http_kafka_jwt_ctx_t *ctx)
{
    u_char  *s;
    jwt_t   *jwt;

    s = ngx_pnalloc(r->pool, token->len + 1);
    if (s == NULL) {
        ctx->status = NGX_ERROR;
        return "internal error";
    }

    *ngx_cpymem(s, token->data, token->len) = '\0';

    jwt = NULL;

    if (jwt_decode(&jwt, (char *) s, jlcf->key->data, (int) jlcf->key->len)
        != 0)
    {
        return "the signature is invalid";
    }

    if (jwt_get_alg(jwt) != alg) {
        jwt_free(jwt);
        return "the token algorithm is not allowed";
    }

    jwt_free(jwt);

    return NULL;
}


static json_t *
ngx_http_kafka_jwt_decode_segment(ngx_http_request_t *r, u_char *data,
    size_t len)
{
    json_t     *json;
    ngx_str_t   src, dst;

    src.data = data;
    src.len = len;

    dst.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(len));
    if (dst.data == NULL) {
        return NULL;
    }

    if (ngx_decode_base64url(&dst, &src) != NGX_OK) {
        return NULL;
    }

    json = json_loadb((char *) dst.data, dst.len, JSON_REJECT_DUPLICATES,
                      NULL);
    if (json == NULL) {
        return NULL;
    }

    if (!json_is_object(json)) {
        json_decref(json);
        return NULL;
    }

    return json;
}


static const char *
ngx_http_kafka_jwt_check_alg(ngx_http_kafka_jwt_key_t *key, json_t *header,
    jwt_alg_t *alg)
{
    size_t                     len;
    json_t                    *value;
    const char                *name;
    ngx_http_kafka_jwt_alg_t  *a;

    value = json_object_get(header, "alg");

    if (!json_is_string(value)) {
        return "the token has no algorithm";
    }

    name = json_string_value(value);
    len = json_string_length(value);

    if (len == 4 && ngx_strncmp(name, "none", 4) == 0) {
        return "unsigned tokens are not accepted";
    }

    for (a = ngx_http_kafka_jwt_algs; a->name.len; a++) {
        if (a->name.len == len
            && ngx_strncmp(a->name.data, name, len) == 0)
        {
            break;
        }
    }

    if (a->name.len == 0) {
        return "the token algorithm is not supported";
    }

    if (a->key_type != key->type
        || (key->type == NGX_HTTP_KAFKA_JWT_KEY_EC && a->alg != key->ec_alg)
        || key->len < a->min_secret)
    {
        return "the token algorithm does not match the key";
    }

    if (json_object_get(header, "crit")) {
        return "the token has critical header parameters";
    }

    value = json_object_get(header, "typ");

    if (value
        && !(json_is_string(value)
             && json_string_length(value) == 3
             && ngx_strncasecmp((u_char *) json_string_value(value),
                                (u_char *) "JWT", 3)
                == 0))
    {
        return "the token type is not JWT";
    }

    *alg = a->alg;

    return NULL;
}


static const char *
ngx_http_kafka_jwt_check_claims(ngx_http_kafka_jwt_loc_conf_t *jlcf,
    json_t *payload)
{
    double   now, t;
    json_t  *exp, *nbf, *iat, *iss, *sub, *aud, *jti, *value;
    size_t   i;

    exp = json_object_get(payload, "exp");
    nbf = json_object_get(payload, "nbf");
    iat = json_object_get(payload, "iat");
    iss = json_object_get(payload, "iss");
    sub = json_object_get(payload, "sub");
    aud = json_object_get(payload, "aud");
    jti = json_object_get(payload, "jti");

    if ((exp && !json_is_number(exp))
        || (nbf && !json_is_number(nbf))
        || (iat && !json_is_number(iat))
        || (iss && !json_is_string(iss))
        || (sub && !json_is_string(sub))
        || (jti && !json_is_string(jti)))
    {
        return "the token has a claim of the wrong type";
    }

    if (aud && !json_is_string(aud)) {

        if (!json_is_array(aud)) {
            return "the token has a claim of the wrong type";
        }

        json_array_foreach(aud, i, value) {
            if (!json_is_string(value)) {
                return "the token has a claim of the wrong type";
            }
        }
    }

    now = (double) ngx_time();

    if (exp == NULL) {
        if (jlcf->require_exp) {
            return "the token has no expiry";
        }

    } else {
        t = json_number_value(exp);

        if (now >= t + (double) jlcf->leeway) {
            return "the token has expired";
        }
    }

    if (nbf) {
        t = json_number_value(nbf);

        if (now + (double) jlcf->leeway < t) {
            return "the token is not valid yet";
        }
    }

    if (jlcf->issuers
        && ngx_http_kafka_jwt_match_string(iss, jlcf->issuers) != NGX_OK)
    {
        return "the token issuer is not accepted";
    }

    if (jlcf->audiences == NULL) {
        return NULL;
    }

    if (json_is_array(aud)) {
        json_array_foreach(aud, i, value) {
            if (ngx_http_kafka_jwt_match_string(value, jlcf->audiences)
                == NGX_OK)
            {
                return NULL;
            }
        }

    } else if (ngx_http_kafka_jwt_match_string(aud, jlcf->audiences)
               == NGX_OK)
    {
        return NULL;
    }

    return "the token audience is not accepted";
}


static ngx_int_t
ngx_http_kafka_jwt_match_string(json_t *value, ngx_array_t *allowed)
{
    size_t       len;
    ngx_str_t   *s;
    ngx_uint_t   i;
    const char  *data;

    if (!json_is_string(value)) {
        return NGX_DECLINED;
    }

    data = json_string_value(value);
    len = json_string_length(value);
    s = allowed->elts;

    for (i = 0; i < allowed->nelts; i++) {
        if (s[i].len == len && ngx_memcmp(s[i].data, data, len) == 0) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * A 401 with a Bearer challenge (RFC 6750 3): without "error" when no
 * token was given, with error="invalid_token" when it was refused.
 *
 * Under "satisfy all" the answer is sent here, with a JSON body, unless
 * the location has an error_page for 401.  Under "satisfy any" another
 * access module may still let the request in, so only the status is
 * returned and nginx answers if none does.
 */

static ngx_int_t
ngx_http_kafka_jwt_reject(ngx_http_request_t *r,
    ngx_http_kafka_jwt_loc_conf_t *jlcf, ngx_str_t *realm,
    const char *reason)
{
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_http_kafka_jwt_challenge(r, realm, reason) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->satisfy != NGX_HTTP_SATISFY_ALL
        || ngx_http_kafka_jwt_error_page(r, NGX_HTTP_UNAUTHORIZED) == NGX_OK)
    {
        return NGX_HTTP_UNAUTHORIZED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (reason) {
        rc = ngx_http_kafka_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       NGX_HTTP_KAFKA_REST_TOKEN_INVALID,
                                       "invalid token: %s", reason);

    } else {
        rc = ngx_http_kafka_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       NGX_HTTP_KAFKA_REST_TOKEN_INVALID,
                                       "a bearer token is required");
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * The WWW-Authenticate challenge (RFC 6750), with the reason as
 * error_description; linked to the challenges of other access modules.
 */

static ngx_int_t
ngx_http_kafka_jwt_challenge(ngx_http_request_t *r, ngx_str_t *realm,
    const char *reason)
{
    u_char           *p;
    size_t            len, rlen;
    ngx_str_t         value;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    /* the realm as a quoted-string: '"' and '\' escaped, no controls */

    rlen = realm->len;

    for (i = 0; i < realm->len; i++) {
        if (realm->data[i] == '"' || realm->data[i] == '\\') {
            rlen++;
        }
    }

    len = sizeof("Bearer realm=\"\"") - 1 + rlen;

    if (reason) {
        len += sizeof(", error=\"invalid_token\", error_description=\"\"") - 1
               + ngx_strlen(reason);
    }

    value.data = ngx_pnalloc(r->pool, len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(value.data, "Bearer realm=\"",
                   sizeof("Bearer realm=\"") - 1);

    for (i = 0; i < realm->len; i++) {
        if (realm->data[i] == '"' || realm->data[i] == '\\') {
            *p++ = '\\';
        }

        *p++ = (realm->data[i] < 0x20 || realm->data[i] == 0x7f)
               ? ' ' : realm->data[i];
    }

    *p++ = '"';

    if (reason) {
        p = ngx_sprintf(p, ", error=\"invalid_token\", "
                           "error_description=\"%s\"", reason);
    }

    value.len = p - value.data;

    h = ngx_http_kafka_header_add(r, "WWW-Authenticate", &value);
    if (h == NULL) {
        return NGX_ERROR;
    }

#if (nginx_version >= 1023000)
    /*
     * 1.23.0: challenges of several access modules are one list; "satisfy
     * any" walks it to hide them all once some module lets the request in
     */

    if (r->headers_out.www_authenticate) {
        ngx_table_elt_t  *last;

        for (last = r->headers_out.www_authenticate; last->next;
             last = last->next)
        { /* void */ }

        last->next = h;

    } else {
        r->headers_out.www_authenticate = h;
    }
#else
    r->headers_out.www_authenticate = h;
#endif

    return NGX_OK;
}


/* whether the location's error_page handles this status */

ngx_int_t
ngx_http_kafka_jwt_error_page(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_uint_t                 i;
    ngx_http_err_page_t       *err_page;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* the conditions of ngx_http_special_response_handler() */

    if (clcf->error_pages == NULL || r->error_page || r->uri_changes == 0) {
        return NGX_DECLINED;
    }

    err_page = clcf->error_pages->elts;

    for (i = 0; i < clcf->error_pages->nelts; i++) {
        if (err_page[i].status == (ngx_int_t) status) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static ngx_http_kafka_jwt_ctx_t *
ngx_http_kafka_jwt_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_kafka_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_kafka_jwt_module);

    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->main->pool, sizeof(ngx_http_kafka_jwt_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->main->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_kafka_jwt_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r->main, ctx, ngx_http_kafka_jwt_module);

    return ctx;
}


static void
ngx_http_kafka_jwt_cleanup(void *data)
{
    ngx_http_kafka_jwt_ctx_t  *ctx = data;

    if (ctx->header) {
        json_decref(ctx->header);
    }

    if (ctx->payload) {
        json_decref(ctx->payload);
    }
}


static ngx_int_t
ngx_http_kafka_jwt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_kafka_jwt_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * $jwt_claim_NAME and $jwt_header_NAME.  For a prefix variable nginx
 * passes the whole variable name as "data" (lowercased, as all variable
 * names are), so the name is looked up case-insensitively; see
 * ngx_http_kafka_jwt_json_variable().
 */

static ngx_int_t
ngx_http_kafka_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *name;
    ngx_http_kafka_jwt_ctx_t  *ctx;
    json_t                    *object;
    size_t                     prefix;

    name = (ngx_str_t *) data;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_kafka_jwt_module);

    if (ctx == NULL || ctx->payload == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (name->len >= sizeof("jwt_header_") - 1
        && ngx_strncmp(name->data, "jwt_header_", sizeof("jwt_header_") - 1)
           == 0)
    {
        object = ctx->header;
        prefix = sizeof("jwt_header_") - 1;

    } else {
        object = ctx->payload;
        prefix = sizeof("jwt_claim_") - 1;
    }

    return ngx_http_kafka_jwt_json_variable(r, v, object,
                                            name->data + prefix,
                                            name->len - prefix);
}


/*
 * A member of a JSON object as a variable: a string as it is, null as not
 * found, anything else as compact JSON.  A member whose name equals the
 * (lowercase) variable name wins; otherwise one that matches it ignoring
 * case, if exactly one does.
 */

static ngx_int_t
ngx_http_kafka_jwt_json_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, json_t *object, u_char *name, size_t len)
{
    u_char      *cname;
    size_t       size, klen, i;
    json_t      *value, *found;
    ngx_uint_t   n;
    const char  *key;

    cname = ngx_pnalloc(r->pool, len + 1);
    if (cname == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(cname, name, len + 1);

    found = json_object_get(object, (char *) cname);

    if (found == NULL) {
        n = 0;

        json_object_foreach(object, key, value) {
            klen = ngx_strlen(key);

            if (klen == len
                && ngx_strncasecmp((u_char *) key, name, len) == 0)
            {
                found = value;
                n++;
            }
        }

        if (n != 1) {
            found = NULL;
        }
    }

    if (found == NULL || json_is_null(found)) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (json_is_string(found)) {
        v->data = (u_char *) json_string_value(found);
        v->len = json_string_length(found);

    } else {
        size = json_dumpb(found, NULL, 0, JSON_COMPACT|JSON_ENCODE_ANY);
        if (size == 0) {
            return NGX_ERROR;
        }

        v->data = ngx_pnalloc(r->pool, size);
        if (v->data == NULL) {
            return NGX_ERROR;
        }

        v->len = json_dumpb(found, (char *) v->data, size,
                            JSON_COMPACT|JSON_ENCODE_ANY);
    }

    /*
     * These variables end up in HTTP headers (add_header,
     * proxy_set_header): a value with a control character (CR, LF, NUL,
     * DEL...) could split them, so such a claim counts as absent.
     * JSON text has its controls escaped by jansson, all but DEL.
     */

    for (i = 0; i < v->len; i++) {
        if (v->data[i] < 0x20 || v->data[i] == 0x7f) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "kafka_jwt: the token's \"%*s\" holds a control "
                          "character, the variable is left empty",
                          len, name);
            v->not_found = 1;
            return NGX_OK;
        }
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static void *
ngx_http_kafka_jwt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_jwt_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_jwt_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->key_file = { 0, NULL };
     *     conf->key = NULL;
     *     conf->acl_claim = { 0, NULL };
     */

    conf->realm = NGX_CONF_UNSET_PTR;
    conf->token = NGX_CONF_UNSET_PTR;
    conf->key_type = NGX_CONF_UNSET_UINT;
    conf->leeway = NGX_CONF_UNSET;
    conf->issuers = NGX_CONF_UNSET_PTR;
    conf->audiences = NGX_CONF_UNSET_PTR;
    conf->require_exp = NGX_CONF_UNSET;
    conf->max_size = NGX_CONF_UNSET_SIZE;
    conf->acl_topic = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_kafka_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kafka_jwt_loc_conf_t *prev = parent;
    ngx_http_kafka_jwt_loc_conf_t *conf = child;

    /*
     * A key is loaded where kafka_jwt_key_file or kafka_jwt_key_type is
     * set, or where a level first inherits them (the http level itself is
     * never merged); below that the loaded key is shared.
     */

    if (conf->key_file.data == NULL
        && conf->key_type == NGX_CONF_UNSET_UINT)
    {
        conf->key = prev->key;
    }

    ngx_conf_merge_ptr_value(conf->realm, prev->realm, NULL);
    ngx_conf_merge_ptr_value(conf->token, prev->token, NULL);
    ngx_conf_merge_str_value(conf->key_file, prev->key_file, "");
    ngx_conf_merge_uint_value(conf->key_type, prev->key_type,
                              NGX_HTTP_KAFKA_JWT_KEY_AUTO);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_ptr_value(conf->issuers, prev->issuers, NULL);
    ngx_conf_merge_ptr_value(conf->audiences, prev->audiences, NULL);
    ngx_conf_merge_value(conf->require_exp, prev->require_exp, 1);
    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 8192);
    ngx_conf_merge_str_value(conf->acl_claim, prev->acl_claim, "");
    ngx_conf_merge_ptr_value(conf->acl_topic, prev->acl_topic, NULL);

    if (conf->key == NULL && conf->key_file.len) {
        conf->key = ngx_http_kafka_jwt_load_key(cf, &conf->key_file,
                                                conf->key_type);
        if (conf->key == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->realm
        && !(conf->realm->lengths == NULL
             && conf->realm->value.len == 3
             && ngx_strncmp(conf->realm->value.data, "off", 3) == 0)
        && conf->key == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kafka_jwt\" requires \"kafka_jwt_key_file\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kafka_jwt_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kafka_jwt_handler;

    return NGX_OK;
}

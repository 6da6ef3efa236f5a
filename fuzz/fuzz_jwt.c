
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


/*
 * Bearer tokens through kafka_jwt's access phase handler, the one the
 * module's postconfiguration registers (ngx_http_kafka_jwt_module.c): the
 * token from the Authorization header, its shape, the header and payload
 * decoded (base64url, JSON), the algorithm checks, the signature (libjwt),
 * the registered claims, the 401 challenge; then, for a verified token,
 * the per-topic grants of its "scope" claim (ngx_http_kafka_jwt_authorize,
 * ngx_http_kafka_acl.c).
 *
 * Input: byte 0, bit 0: the rest is the whole Authorization header value
 * (shape and decoding); otherwise the rest is a JWS header and payload
 * separated by the first NUL byte, which the harness encodes and signs
 * with the configured secret, so that the claims and the grants are
 * reached: bits 1-2 the HMAC (SHA-256, -384, -512), bits 3-5 the topic
 * asked for, bit 6 the action (produce, consume).
 *
 * The location: kafka_jwt "kafka", a 64-byte HMAC secret,
 * kafka_jwt_issuer https://issuer.example, kafka_jwt_audience
 * kafka-gateway, kafka_acl_claim scope, error_page 401 403.
 *
 * Checked: the handler answers NGX_OK or 401, a 401 carries one
 * WWW-Authenticate challenge free of CR, LF and NUL; a verified token has
 * an unexpired "exp"; the grants answer NGX_OK or 403.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_jwt.h"
#include "ngx_http_kafka_acl.h"
#include "fuzz_common.h"


static ngx_str_t *fuzz_jwt_sign(ngx_http_request_t *r, u_char *data,
    size_t len, ngx_uint_t hash);
static void fuzz_jwt_check_challenge(ngx_http_request_t *r);


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static ngx_str_t  fuzz_jwt_topics[] = {
    ngx_string("orders"),
    ngx_string("ordxrs"),
    ngx_string("logs-1"),
    ngx_string("audit"),
    ngx_string("team-a-events"),
    ngx_string("team--events"),
    ngx_string("x"),
    ngx_string("logs-")
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_str_set(&fuzz_conf.jwt_realm, "kafka");
    ngx_str_set(&fuzz_conf.jwt_secret,
                "fuzz-secret-0123456789abcdef0123456789abcdef"
                "0123456789abcdef0123");
    ngx_str_set(&fuzz_conf.jwt_acl_claim, "scope");
    ngx_str_set(&fuzz_conf.jwt_issuer, "https://issuer.example");
    ngx_str_set(&fuzz_conf.jwt_audience, "kafka-gateway");

    fuzz_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t                    *exp;
    ngx_int_t                  rc;
    ngx_str_t                 *value, *topic;
    ngx_uint_t                 action;
    ngx_http_request_t        *r;
    ngx_http_handler_pt        handler;
    ngx_http_kafka_jwt_ctx_t  *ctx;

    if (size == 0) {
        return 0;
    }

    r = fuzz_request();

    if (data[0] & 1) {
        value = ngx_palloc(r->pool, sizeof(ngx_str_t));
        if (value == NULL) {
            fuzz_fail("no memory");
        }

        value->data = (u_char *) data + 1;
        value->len = size - 1;

    } else {
        value = fuzz_jwt_sign(r, (u_char *) data + 1, size - 1,
                              (data[0] >> 1) & 3);
    }

    r->headers_in.authorization = fuzz_header_in(r, "Authorization",
                                                 value->data, value->len);

    handler = fuzz_access_handler();

    rc = handler(r);

    if (rc == NGX_HTTP_UNAUTHORIZED) {
        fuzz_jwt_check_challenge(r);
        fuzz_request_done(r);
        return 0;
    }

    if (rc != NGX_OK) {
        fuzz_fail("the access handler returned %i", rc);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_jwt_module);

    exp = json_object_get(ctx->payload, "exp");

    if (ctx->header == NULL || !json_is_number(exp)
        || json_number_value(exp) <= (double) ngx_time())
    {
        fuzz_fail("a token was accepted without an unexpired \"exp\"");
    }

    /* the grants, as ngx_http_kafka_entry() asks for a valid topic */

    topic = &fuzz_jwt_topics[(data[0] >> 3) & 7];
    action = (data[0] & 0x40) ? NGX_HTTP_KAFKA_ACTION_CONSUME
                              : NGX_HTTP_KAFKA_ACTION_PRODUCE;

    rc = ngx_http_kafka_jwt_authorize(r, topic, action);

    if (rc != NGX_OK && rc != NGX_HTTP_FORBIDDEN) {
        fuzz_fail("the grants returned %i", rc);
    }

    fuzz_request_done(r);

    return 0;
}


/* "Bearer " base64url(header) "." base64url(payload) "." signature */

static ngx_str_t *
fuzz_jwt_sign(ngx_http_request_t *r, u_char *data, size_t len,
    ngx_uint_t hash)
{
    u_char         *p, *sep;
    ngx_str_t      *token, src, dst;
    unsigned int    maclen;
    const EVP_MD   *md;
    u_char          mac[EVP_MAX_MD_SIZE];

    sep = ngx_strlchr(data, data + len, '\0');

    token = ngx_palloc(r->pool, sizeof(ngx_str_t));
    p = ngx_pnalloc(r->pool, sizeof("Bearer ..") - 1
                             + ngx_base64_encoded_length(len)
                             + ngx_base64_encoded_length(EVP_MAX_MD_SIZE));
    if (token == NULL || p == NULL) {
        fuzz_fail("no memory");
    }

    token->data = p;
    p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);

    src.data = data;
    src.len = sep ? (size_t) (sep - data) : len;
    dst.data = p;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;
    *p++ = '.';

    src.data = sep ? sep + 1 : data + len;
    src.len = data + len - src.data;
    dst.data = p;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    md = (hash == 1) ? EVP_sha384() : (hash == 2) ? EVP_sha512()
                                                  : EVP_sha256();

    if (HMAC(md, fuzz_conf.jwt_secret.data, (int) fuzz_conf.jwt_secret.len,
             token->data + sizeof("Bearer ") - 1,
             p - token->data - (sizeof("Bearer ") - 1), mac, &maclen)
        == NULL)
    {
        fuzz_fail("HMAC failed");
    }

    *p++ = '.';

    src.data = mac;
    src.len = maclen;
    dst.data = p;
    ngx_encode_base64url(&dst, &src);
    p += dst.len;

    token->len = p - token->data;

    return token;
}


static void
fuzz_jwt_check_challenge(ngx_http_request_t *r)
{
    size_t            i;
    ngx_table_elt_t  *h;

    h = r->headers_out.www_authenticate;

    if (h == NULL || h->next != NULL) {
        fuzz_fail("a 401 without one challenge");
    }

    for (i = 0; i < h->value.len; i++) {
        if (h->value.data[i] == CR || h->value.data[i] == LF
            || h->value.data[i] == '\0')
        {
            fuzz_fail("a CR, LF or NUL in the challenge: \"%V\"", &h->value);
        }
    }
}

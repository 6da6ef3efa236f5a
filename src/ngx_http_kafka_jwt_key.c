
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jwt.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#if (OPENSSL_VERSION_NUMBER < 0x30000000L)
#include <openssl/ec.h>
#endif

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_jwt.h"


/* RFC 7518 3.2: an HMAC key at least as long as the hash output */
#define NGX_HTTP_KAFKA_JWT_HMAC_MIN    32
#define NGX_HTTP_KAFKA_JWT_RSA_MIN     2048
#define NGX_HTTP_KAFKA_JWT_KEY_MAX     65536


static ngx_int_t ngx_http_kafka_jwt_read_file(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *content);
static ngx_int_t ngx_http_kafka_jwt_load_public_key(ngx_conf_t *cf,
    ngx_str_t *file, ngx_str_t *pem, ngx_http_kafka_jwt_key_t *key);
static EVP_PKEY *ngx_http_kafka_jwt_read_public_key(ngx_conf_t *cf,
    ngx_str_t *file, ngx_str_t *pem);
static ngx_int_t ngx_http_kafka_jwt_key_kind(ngx_conf_t *cf, ngx_str_t *file,
    EVP_PKEY *pkey, ngx_http_kafka_jwt_key_t *key);
static ngx_int_t ngx_http_kafka_jwt_ec_alg(ngx_conf_t *cf, ngx_str_t *file,
    EVP_PKEY *pkey, ngx_http_kafka_jwt_key_t *key);
static ngx_int_t ngx_http_kafka_jwt_key_pem(ngx_conf_t *cf, ngx_str_t *file,
    EVP_PKEY *pkey, ngx_http_kafka_jwt_key_t *key);
static void ngx_http_kafka_jwt_key_cleanup(void *data);


/*
 * A key for a key type: "hmac" takes the file's bytes as they are; "rsa",
 * "ec" and "auto" take a PEM public key or certificate, and "auto" takes
 * its type from it.  A secret is never inferred: a file that is not PEM
 * could be a DER public key, and a public key used as an HMAC secret is
 * exactly the confusion this module must not allow.
 */

ngx_http_kafka_jwt_key_t *
ngx_http_kafka_jwt_load_key(ngx_conf_t *cf, ngx_str_t *file, ngx_uint_t type)
{
    ngx_str_t                  name, content;
    ngx_pool_cleanup_t        *cln;
    ngx_http_kafka_jwt_key_t  *key;

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NULL;
    }

    if (ngx_http_kafka_jwt_read_file(cf, &name, &content) != NGX_OK) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_kafka_jwt_key_cleanup;
    cln->data = NULL;

    key = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_jwt_key_t));
    if (key == NULL) {
        return NULL;
    }

    if (ngx_strlcasestrn(content.data, content.data + content.len,
                         (u_char *) "-----BEGIN ", sizeof("-----BEGIN ") - 2)
        != NULL)
    {
        if (type == NGX_HTTP_KAFKA_JWT_KEY_HMAC) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" is a PEM file, not an HMAC secret",
                               &name);
            ngx_explicit_memzero(content.data, content.len);
            return NULL;
        }

        if (ngx_http_kafka_jwt_load_public_key(cf, &name, &content, key)
            != NGX_OK)
        {
            ngx_explicit_memzero(content.data, content.len);
            return NULL;
        }

        if (type != NGX_HTTP_KAFKA_JWT_KEY_AUTO && type != key->type) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" is not an %s public key", &name,
                               type == NGX_HTTP_KAFKA_JWT_KEY_RSA ? "RSA"
                                                                  : "EC");
            return NULL;
        }

        cln->data = key;

        return key;
    }

    if (type != NGX_HTTP_KAFKA_JWT_KEY_HMAC) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a PEM public key; an HMAC secret "
                           "needs \"kafka_jwt_key_type hmac\"", &name);
        ngx_explicit_memzero(content.data, content.len);
        return NULL;
    }

    if (content.len < NGX_HTTP_KAFKA_JWT_HMAC_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the HMAC secret in \"%V\" is shorter than %d "
                           "bytes", &name, NGX_HTTP_KAFKA_JWT_HMAC_MIN);
        ngx_explicit_memzero(content.data, content.len);
        return NULL;
    }

    key->type = NGX_HTTP_KAFKA_JWT_KEY_HMAC;
    key->data = content.data;
    key->len = content.len;

    cln->data = key;

    return key;
}


static ngx_int_t
ngx_http_kafka_jwt_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content)
{
    off_t        size;
    ssize_t      n;
    ngx_int_t    rc;
    ngx_file_t   file;

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name->data);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(file.fd, &file.info) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", name->data);
        goto done;
    }

    size = ngx_file_size(&file.info);

    if (size == 0 || size > NGX_HTTP_KAFKA_JWT_KEY_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%s\" is empty or too large",
                           name->data);
        goto done;
    }

    content->data = ngx_pnalloc(cf->pool, size);
    if (content->data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, content->data, size, 0);

    if (n == NGX_ERROR) {
        goto done;
    }

    if (n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%s\" returned only %z bytes "
                           "instead of %O", name->data, n, size);
        goto done;
    }

    content->len = size;
    rc = NGX_OK;

done:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", name->data);
    }

    return rc;
}


/*
 * The public key of a PEM "PUBLIC KEY" or "CERTIFICATE", checked and
 * re-encoded as a "PUBLIC KEY", which is what libjwt reads.  Private keys
 * are refused: verification never needs one in a worker's memory.
 */

static ngx_int_t
ngx_http_kafka_jwt_load_public_key(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *pem, ngx_http_kafka_jwt_key_t *key)
{
    EVP_PKEY   *pkey;
    ngx_int_t   rc;

    pkey = ngx_http_kafka_jwt_read_public_key(cf, file, pem);
    if (pkey == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_kafka_jwt_key_kind(cf, file, pkey, key);

    if (rc == NGX_OK) {
        rc = ngx_http_kafka_jwt_key_pem(cf, file, pkey, key);
    }

    EVP_PKEY_free(pkey);
    ERR_clear_error();

    return rc;
}


/* the key of a PEM "PUBLIC KEY", else of a "CERTIFICATE" */

static EVP_PKEY *
ngx_http_kafka_jwt_read_public_key(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *pem)
{
    BIO       *in;
    X509      *x509;
    EVP_PKEY  *pkey;

    if (ngx_strlcasestrn(pem->data, pem->data + pem->len,
                         (u_char *) "PRIVATE KEY", sizeof("PRIVATE KEY") - 2)
        != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" holds a private key; kafka_jwt_key_file "
                           "takes the public key or a certificate", file);
        return NULL;
    }

    in = BIO_new_mem_buf(pem->data, pem->len);
    if (in == NULL) {
        return NULL;
    }

    pkey = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);

    if (pkey == NULL) {
        ERR_clear_error();

        if (BIO_reset(in) == 1) {
            x509 = PEM_read_bio_X509(in, NULL, NULL, NULL);

            if (x509) {
                pkey = X509_get_pubkey(x509);
                X509_free(x509);
            }
        }
    }

    BIO_free(in);

    if (pkey == NULL) {
        ERR_clear_error();
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no PEM public key or certificate in \"%V\"",
                           file);
        return NULL;
    }

    return pkey;
}


/* RSA of at least NGX_HTTP_KAFKA_JWT_RSA_MIN bits, or EC on a JOSE curve */

static ngx_int_t
ngx_http_kafka_jwt_key_kind(ngx_conf_t *cf, ngx_str_t *file, EVP_PKEY *pkey,
    ngx_http_kafka_jwt_key_t *key)
{
    int  bits;

    switch (EVP_PKEY_base_id(pkey)) {

    case EVP_PKEY_RSA:
        bits = EVP_PKEY_bits(pkey);

        if (bits < NGX_HTTP_KAFKA_JWT_RSA_MIN) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the RSA key in \"%V\" has %d bits, "
                               "fewer than %d", file, bits,
                               NGX_HTTP_KAFKA_JWT_RSA_MIN);
            return NGX_ERROR;
        }

        key->type = NGX_HTTP_KAFKA_JWT_KEY_RSA;
        return NGX_OK;

    case EVP_PKEY_EC:
        if (ngx_http_kafka_jwt_ec_alg(cf, file, pkey, key) != NGX_OK) {
            return NGX_ERROR;
        }

        key->type = NGX_HTTP_KAFKA_JWT_KEY_EC;
        return NGX_OK;

    default:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the key in \"%V\" is neither RSA nor EC", file);
        return NGX_ERROR;
    }
}


/* the one algorithm an EC key's curve signs */

static ngx_int_t
ngx_http_kafka_jwt_ec_alg(ngx_conf_t *cf, ngx_str_t *file, EVP_PKEY *pkey,
    ngx_http_kafka_jwt_key_t *key)
{
    char  curve[64];

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    {
    size_t  n;

    if (EVP_PKEY_get_group_name(pkey, curve, sizeof(curve), &n) != 1) {
        curve[0] = '\0';
    }
    }
#else
    {
    int  nid;

    nid = EC_GROUP_get_curve_name(
              EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(pkey)));
    ngx_cpystrn((u_char *) curve, (u_char *) (OBJ_nid2sn(nid) ?
                OBJ_nid2sn(nid) : ""), sizeof(curve));
    }
#endif

    if (ngx_strcmp(curve, "prime256v1") == 0) {
        key->ec_alg = JWT_ALG_ES256;

    } else if (ngx_strcmp(curve, "secp384r1") == 0) {
        key->ec_alg = JWT_ALG_ES384;

    } else if (ngx_strcmp(curve, "secp521r1") == 0) {
        key->ec_alg = JWT_ALG_ES512;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the EC key in \"%V\" is on curve \"%s\"; "
                           "only P-256, P-384 and P-521 are supported",
                           file, curve);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the key re-encoded as a PEM "PUBLIC KEY", which is what libjwt reads */

static ngx_int_t
ngx_http_kafka_jwt_key_pem(ngx_conf_t *cf, ngx_str_t *file, EVP_PKEY *pkey,
    ngx_http_kafka_jwt_key_t *key)
{
    BIO        *out;
    long        len;
    char       *data;
    ngx_int_t   rc;

    rc = NGX_ERROR;

    out = BIO_new(BIO_s_mem());
    if (out == NULL || PEM_write_bio_PUBKEY(out, pkey) != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot re-encode the key in \"%V\"", file);
        goto done;
    }

    len = BIO_get_mem_data(out, &data);

    key->data = ngx_pnalloc(cf->pool, len);
    if (key->data == NULL) {
        goto done;
    }

    ngx_memcpy(key->data, data, len);
    key->len = len;

    rc = NGX_OK;

done:

    if (out) {
        BIO_free(out);
    }

    return rc;
}


/* secrets do not outlive the configuration that holds them */

static void
ngx_http_kafka_jwt_key_cleanup(void *data)
{
    ngx_http_kafka_jwt_key_t  *key = data;

    if (key && key->type == NGX_HTTP_KAFKA_JWT_KEY_HMAC) {
        ngx_explicit_memzero(key->data, key->len);
    }
}

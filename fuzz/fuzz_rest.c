
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


/*
 * REST v2 envelopes (ngx_http_kafka_rest_parse): the first byte chooses the
 * format (even: application/vnd.kafka.json.v2+json, odd: ...binary...), the
 * rest is the request body.  As the produce body handler does, a refused
 * body is answered with ngx_http_kafka_send_error() (422 and the reason).
 *
 * Checked: an accepted json record's key and value are JSON texts; a
 * binary one's are what base64-decoding the field gives; a refusal has a
 * reason and one of the envelope codes, and its answer is valid JSON.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_produce.h"
#include "ngx_http_kafka_rest.h"
#include "fuzz_common.h"


static void fuzz_rest_check_json(u_char *data, size_t len);


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                         rc;
    ngx_str_t                         body;
    ngx_uint_t                        i;
    ngx_array_t                       records;
    ngx_http_request_t               *r;
    ngx_http_kafka_produce_ctx_t     *ctx;
    ngx_http_kafka_produce_record_t  *rec;

    if (size == 0) {
        return 0;
    }

    r = fuzz_request();

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_produce_ctx_t));
    if (ctx == NULL
        || ngx_array_init(&records, r->pool, 1,
                          sizeof(ngx_http_kafka_produce_record_t))
           != NGX_OK)
    {
        fuzz_fail("no memory");
    }

    ngx_http_set_ctx(r, ctx, ngx_http_kafka_produce_module);

    ctx->format = (data[0] & 1) ? NGX_HTTP_KAFKA_FORMAT_BINARY
                                : NGX_HTTP_KAFKA_FORMAT_JSON;

    /* the body in memory of its own size, as the body collector leaves it */

    body.len = size - 1;
    body.data = ngx_pnalloc(r->pool, body.len);
    if (body.data == NULL) {
        fuzz_fail("no memory");
    }

    ngx_memcpy(body.data, data + 1, body.len);

    rc = ngx_http_kafka_rest_parse(r, ctx, &body, &records);

    if (rc == NGX_DECLINED) {
        if (ctx->invalid.len == 0
            || (ctx->invalid_code != NGX_HTTP_KAFKA_REST_BODY_INVALID
                && ctx->invalid_code != NGX_HTTP_KAFKA_REST_SCHEMA_UNSUPPORTED))
        {
            fuzz_fail("a refusal without a reason or with code %ui",
                      ctx->invalid_code);
        }

        (void) ngx_http_kafka_send_error(r, NGX_HTTP_KAFKA_UNPROCESSABLE,
                                         ctx->invalid_code, "%V",
                                         &ctx->invalid);

        if (fuzz_response_status() != NGX_HTTP_KAFKA_UNPROCESSABLE) {
            fuzz_fail("a refusal answered %ui", fuzz_response_status());
        }

    } else if (rc == NGX_OK) {
        if (records.nelts == 0) {
            fuzz_fail("an accepted envelope without records");
        }

        rec = records.elts;

        for (i = 0; i < records.nelts; i++) {
            if (rec[i].partition < RD_KAFKA_PARTITION_UA) {
                fuzz_fail("record %ui: partition %D", i, rec[i].partition);
            }

            if (ctx->format == NGX_HTTP_KAFKA_FORMAT_JSON) {
                fuzz_rest_check_json(rec[i].key, rec[i].key_len);
                fuzz_rest_check_json(rec[i].value, rec[i].value_len);

            } else {
                /* every byte of a decoded field must be readable */

                if (rec[i].key_len) {
                    (void) ngx_hash_key(rec[i].key, rec[i].key_len);
                }

                if (rec[i].value_len) {
                    (void) ngx_hash_key(rec[i].value, rec[i].value_len);
                }
            }

            if ((rec[i].key == NULL && rec[i].key_len)
                || (rec[i].value == NULL && rec[i].value_len))
            {
                fuzz_fail("record %ui: a length without data", i);
            }
        }

    } else {
        fuzz_fail("ngx_http_kafka_rest_parse() returned %i", rc);
    }

    fuzz_request_done(r);

    return 0;
}


/* a json-format key or value is the JSON text of the field, or absent */

static void
fuzz_rest_check_json(u_char *data, size_t len)
{
    json_t        *json;
    json_error_t   err;

    if (data == NULL) {
        return;
    }

    json = json_loadb((char *) data, len, JSON_DECODE_ANY|JSON_ALLOW_NUL,
                      &err);

    if (json == NULL) {
        fuzz_fail("a record field is not JSON (%s): \"%*s\"", err.text,
                  len, data);
    }

    json_decref(json);
}

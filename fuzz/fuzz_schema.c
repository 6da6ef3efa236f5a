
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


/*
 * The JSON Schema validator (src/ngx_http_kafka_schema.c): a schema that
 * an operator writes is compiled at configuration time, and every record
 * a client sends is validated against it.  Both halves come from the
 * input, so the fuzzer explores schemas the reference suite does not hold
 * (deep nesting, odd keyword values, patterns, $ref cycles) and instances
 * against them.
 *
 * Input: byte 0, bit 0: draft-07 rather than 2020-12 without $schema;
 * bit 1: "format" asserts.  The rest: the schema's JSON text, a NUL, the
 * instance's JSON text.  No loader: a $ref to another document fails to
 * compile, with a message.
 *
 * Checked: a schema compiles or fails with a message; a validation gives
 * 0 or 1, the same with and without the error callback, the callback
 * runs exactly when the instance is invalid (at most max_errors times),
 * and each violation names a keyword, a JSON pointer and a message.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <string.h>
#include <jansson.h>

#include "ngx_http_kafka_schema.h"
#include "fuzz_common.h"


#define FUZZ_SCHEMA_MAX_ERRORS  8


typedef struct {
    size_t  count;
} fuzz_schema_errors_t;


static int fuzz_schema_error(void *data, const char *pointer,
    const char *keyword, const char *message);


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                               formats, rc, rc2;
    char                              err[256];
    json_t                           *doc, *instance;
    const uint8_t                    *sep;
    json_error_t                      jerr;
    fuzz_schema_errors_t              errors;
    ngx_http_kafka_schema_t          *schema;
    ngx_http_kafka_schema_options_t   opts;

    if (size < 2) {
        return 0;
    }

    formats = (data[0] & 0x02) != 0;

    ngx_memzero(&opts, sizeof(ngx_http_kafka_schema_options_t));
    opts.draft = (data[0] & 0x01) ? NGX_HTTP_KAFKA_SCHEMA_DRAFT7
                                  : NGX_HTTP_KAFKA_SCHEMA_DRAFT2020;
    opts.base = "urn:fuzz:schema";

    data++;
    size--;

    sep = memchr(data, '\0', size);
    if (sep == NULL) {
        return 0;
    }

    doc = json_loadb((const char *) data, sep - data,
                     JSON_DECODE_ANY|JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
        return 0;
    }

    err[0] = '\0';
    schema = ngx_http_kafka_schema_compile(doc, &opts, err, sizeof(err));

    if (schema == NULL) {
        if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
            fuzz_fail("a schema failed to compile without a message");
        }

        json_decref(doc);
        return 0;
    }

    sep++;
    instance = json_loadb((const char *) sep, size - (sep - data),
                          JSON_DECODE_ANY|JSON_ALLOW_NUL, &jerr);

    if (instance != NULL) {
        rc = ngx_http_kafka_schema_validate(schema, instance, formats, 0,
                                            NULL, NULL);

        errors.count = 0;
        rc2 = ngx_http_kafka_schema_validate(schema, instance, formats,
                                             FUZZ_SCHEMA_MAX_ERRORS,
                                             fuzz_schema_error, &errors);

        if ((rc != 0 && rc != 1) || rc != rc2) {
            fuzz_fail("validation gave %d, then %d with errors", rc, rc2);
        }

        if (rc == 1 && errors.count != 0) {
            fuzz_fail("a valid instance reported %uz violations",
                      errors.count);
        }

        if (rc == 0
            && (errors.count == 0 || errors.count > FUZZ_SCHEMA_MAX_ERRORS))
        {
            fuzz_fail("an invalid instance reported %uz violations",
                      errors.count);
        }

        json_decref(instance);
    }

    ngx_http_kafka_schema_free(schema);
    json_decref(doc);

    return 0;
}


static int
fuzz_schema_error(void *data, const char *pointer, const char *keyword,
    const char *message)
{
    fuzz_schema_errors_t  *errors = data;

    if (pointer == NULL || keyword == NULL || keyword[0] == '\0'
        || message == NULL || message[0] == '\0')
    {
        fuzz_fail("a violation without its pointer, keyword or message");
    }

    if (pointer[0] != '\0' && pointer[0] != '/') {
        fuzz_fail("a violation's instance location \"%s\" is not a JSON "
                  "pointer", pointer);
    }

    errors->count++;

    return 0;
}

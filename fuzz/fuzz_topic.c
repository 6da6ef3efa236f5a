
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


/*
 * Topic names from requests, through the content handlers' common entry
 * (ngx_http_kafka_entry): the method check (405 with Allow), the topic
 * evaluated from its complex value, Kafka's rule and the internal-topic
 * rule (ngx_http_kafka_topic_allowed, ngx_http_kafka_topic_valid), the 400
 * refusal (ngx_http_kafka_topic_refuse) with the name in a JSON error, and
 * the NUL-terminated copy handed to librdkafka.
 *
 * Input: byte 0, bit 0: kafka_internal_topics on; bit 1: the topic is a
 * literal of the configuration rather than evaluated from the request;
 * bits 2-3: the method (GET, POST, DELETE, PUT).  The rest: the topic.
 * The evaluated topic runs nginx's own script codes, as for
 * "kafka_produce $arg_topic".
 *
 * Checked: an accepted topic is 1 to 249 bytes of [a-zA-Z0-9._-], not "."
 * or "..", not internal unless allowed, and its copy equals it; any other
 * outcome is a complete 400 or 405 answer with a JSON error.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "fuzz_common.h"


static void fuzz_topic_value(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, u_char *data, size_t len);


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static ngx_http_kafka_entry_t  fuzz_topic_entry = {
    NGX_HTTP_GET|NGX_HTTP_POST,
    ngx_string("GET, POST"),
    "use GET or POST",
    "kafka_produce",
    NGX_HTTP_KAFKA_ACTION_PRODUCE,
    0,
    1
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     *p;
    ngx_int_t                   rc;
    ngx_str_t                   name, topic;
    ngx_uint_t                  i, internal, ok;
    ngx_http_request_t         *r;
    ngx_http_complex_value_t    cv;
    ngx_http_kafka_loc_conf_t  *klcf;

    static ngx_uint_t  methods[] = {
        NGX_HTTP_GET, NGX_HTTP_POST, NGX_HTTP_DELETE, NGX_HTTP_PUT
    };
    static ngx_str_t   method_names[] = {
        ngx_string("GET"), ngx_string("POST"), ngx_string("DELETE"),
        ngx_string("PUT")
    };

    if (size == 0) {
        return 0;
    }

    r = fuzz_request();

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_gateway_module);
    klcf->internal_topics = data[0] & 1;

    r->method = methods[(data[0] >> 2) & 3];
    r->method_name = method_names[(data[0] >> 2) & 3];

    name.len = size - 1;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        fuzz_fail("no memory");
    }

    ngx_memcpy(name.data, data + 1, name.len);

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    if (data[0] & 2) {
        cv.value = name;

    } else {
        fuzz_topic_value(r, &cv, name.data, name.len);
    }

    ngx_str_null(&topic);

    rc = ngx_http_kafka_entry(r, &fuzz_topic_entry, &cv, &topic);

    if (rc != NGX_DECLINED) {
        if (rc != NGX_OK
            || (fuzz_response_status() != NGX_HTTP_BAD_REQUEST
                && fuzz_response_status() != NGX_HTTP_NOT_ALLOWED)
            || (fuzz_response_status() == NGX_HTTP_NOT_ALLOWED
                && (r->method & fuzz_topic_entry.methods)))
        {
            fuzz_fail("entry returned %i, answered %ui", rc,
                      fuzz_response_status());
        }

        fuzz_request_done(r);
        return 0;
    }

    /* Kafka's rule, as its documentation states it */

    ok = (name.len >= 1 && name.len <= 249
          && !(name.len == 1 && name.data[0] == '.')
          && !(name.len == 2 && name.data[0] == '.' && name.data[1] == '.'));

    for (i = 0; ok && i < name.len; i++) {
        p = &name.data[i];
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
             || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
             || *p == '-';
    }

    internal = (name.len >= 2 && name.data[0] == '_' && name.data[1] == '_');

    if (!ok || (internal && !(data[0] & 3))) {
        fuzz_fail("topic \"%V\" was accepted", &name);
    }

    if (topic.len != name.len
        || ngx_memcmp(topic.data, name.data, name.len) != 0
        || topic.data[topic.len] != '\0')
    {
        fuzz_fail("topic \"%V\" was copied as \"%V\"", &name, &topic);
    }

    fuzz_request_done(r);

    return 0;
}


/*
 * A complex value made of nginx's script codes, as the compiler makes
 * them for a literal part: the evaluated string is then a new piece of
 * request memory, as for a variable.
 */

static void
fuzz_topic_value(ngx_http_request_t *r, ngx_http_complex_value_t *cv,
    u_char *data, size_t len)
{
    size_t                        padded;
    ngx_http_script_copy_code_t  *code;

    padded = (len + sizeof(uintptr_t) - 1) & ~(sizeof(uintptr_t) - 1);

    code = ngx_pcalloc(r->pool, sizeof(ngx_http_script_copy_code_t)
                                + sizeof(uintptr_t));
    if (code == NULL) {
        fuzz_fail("no memory");
    }

    code->code = (ngx_http_script_code_pt) (void *)
                 ngx_http_script_copy_len_code;
    code->len = len;
    cv->lengths = code;

    code = ngx_pcalloc(r->pool, sizeof(ngx_http_script_copy_code_t) + padded
                                + sizeof(uintptr_t));
    if (code == NULL) {
        fuzz_fail("no memory");
    }

    code->code = ngx_http_script_copy_code;
    code->len = len;
    ngx_memcpy((u_char *) code + sizeof(ngx_http_script_copy_code_t), data,
               len);
    cv->values = code;
}

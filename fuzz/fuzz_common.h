
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _FUZZ_COMMON_H_INCLUDED_
#define _FUZZ_COMMON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * What the fuzz targets share (fuzz_common.c): nginx's globals set as a
 * worker has them, the module's location configurations made by its own
 * create/merge handlers, and a minimal real request (pool, connection,
 * events, header lists, module contexts) for each input.
 *
 * Responses go through nginx's own ngx_http_send_header() and
 * ngx_http_output_filter(); the filter chain is replaced by two checking
 * filters: every response header must be free of CR, LF and NUL, and a
 * JSON body (the module's errors) must be a valid JSON object with an
 * integer "error_code" and a string "message".  A check that fails aborts,
 * which libFuzzer records as a crash.
 */


/* the location's settings that a target may vary, before fuzz_init() */
typedef struct {
    ngx_str_t             jwt_realm;         /* kafka_jwt, "" for off */
    ngx_str_t             jwt_secret;        /* an HMAC key */
    ngx_str_t             jwt_acl_claim;     /* kafka_acl_claim */
    ngx_str_t             jwt_issuer;        /* kafka_jwt_issuer */
    ngx_str_t             jwt_audience;      /* kafka_jwt_audience */
    ngx_flag_t            internal_topics;   /* kafka_internal_topics */
} fuzz_conf_t;


extern ngx_log_t   *fuzz_log;
extern fuzz_conf_t  fuzz_conf;


void fuzz_init(void);
ngx_http_request_t *fuzz_request(void);
void fuzz_request_done(ngx_http_request_t *r);
ngx_http_handler_pt fuzz_access_handler(void);
ngx_table_elt_t *fuzz_header_in(ngx_http_request_t *r, char *name,
    u_char *value, size_t len);

/* the response the checking filters saw for the current request */
ngx_uint_t fuzz_response_status(void);
ngx_str_t *fuzz_response_body(void);

void fuzz_fail(const char *fmt, ...);


#endif /* _FUZZ_COMMON_H_INCLUDED_ */


/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_log.h"


/*
 * A captured exchange as a Kafka record, in one of two shapes:
 *
 * cloudevents: the CloudEvents 1.0 Kafka protocol binding, binary content
 *   mode.  Every attribute is a header named "ce_" and the attribute
 *   (extension names are lowercase letters and digits, as the core spec
 *   requires), "content-type" is the data's media type, the value is the
 *   data: the response body, or the request body when only that is
 *   captured.  With both bodies the request body travels in the plain
 *   Kafka header "http-request-body".  A tombstone is the same event with
 *   no data: a null value.
 *
 * json: the CloudEvents JSON event format (structured content mode), with
 *   "content-type: application/cloudevents+json; charset=UTF-8"; "data"
 *   holds the request and response metadata and both bodies.
 *
 * Selected request headers (kafka_log_header) are plain Kafka headers
 * "http-" and the lowercase name in the binary mode, members of
 * data.request.headers in the JSON one.
 */


#define NGX_HTTP_KAFKA_LOG_AUTHTYPE  "app_user"

/* a header by a literal name, its length known to librdkafka */
#define ngx_http_kafka_log_add(hs, name, value)                             \
    ngx_http_kafka_log_add_n(hs, name, sizeof(name) - 1, value)

/* the worst escaped length of a short string: \u00XX or \ufffd a byte */
#define ngx_http_kafka_log_json_max(s)  (sizeof(",\"\":\"\"") + 24         \
                                         + 6 * (s)->len)


static ngx_int_t ngx_http_kafka_log_binary(ngx_http_request_t *r,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev,
    rd_kafka_headers_t *hs, ngx_str_t *value);
static ngx_int_t ngx_http_kafka_log_structured(ngx_http_request_t *r,
    ngx_http_kafka_log_event_t *ev, rd_kafka_headers_t *hs,
    ngx_str_t *value);
static size_t ngx_http_kafka_log_body_json_len(ngx_http_kafka_log_body_t *b);
static u_char *ngx_http_kafka_log_body_json(u_char *p,
    ngx_http_kafka_log_body_t *b);
static u_char *ngx_http_kafka_log_json_str(u_char *p, char *name,
    ngx_str_t *value);
static ngx_int_t ngx_http_kafka_log_add_n(rd_kafka_headers_t *hs,
    const char *name, size_t len, ngx_str_t *value);


/*
 * The record's headers and value; value->data NULL is a null value (a
 * tombstone).  The caller destroys *headers.
 */

ngx_int_t
ngx_http_kafka_log_format(ngx_http_request_t *r,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev,
    rd_kafka_headers_t **headers, ngx_str_t *value)
{
    ngx_int_t            rc;
    rd_kafka_headers_t  *hs;

    hs = rd_kafka_headers_new(16);
    if (hs == NULL) {
        return NGX_ERROR;
    }

    if (llcf->format == NGX_HTTP_KAFKA_LOG_JSON && !ev->tombstone) {
        rc = ngx_http_kafka_log_structured(r, ev, hs, value);

    } else {
        rc = ngx_http_kafka_log_binary(r, llcf, ev, hs, value);
    }

    if (rc != NGX_OK) {
        rd_kafka_headers_destroy(hs);
        return NGX_ERROR;
    }

    *headers = hs;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_log_binary(ngx_http_request_t *r,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev,
    rd_kafka_headers_t *hs, ngx_str_t *value)
{
    u_char                       *p, status[NGX_INT_T_LEN];
    ngx_str_t                     s, name, *type;
    ngx_uint_t                    i;
    ngx_http_kafka_log_body_t    *data;
    ngx_http_kafka_log_header_t  *h;

    static ngx_str_t  specversion = ngx_string("1.0");
    static ngx_str_t  yes = ngx_string("true");
    static ngx_str_t  authtype = ngx_string(NGX_HTTP_KAFKA_LOG_AUTHTYPE);

    s.data = status;

    if (ev->status >= 100 && ev->status < 1000) {
        s.len = ngx_http_kafka_log_digits3(status, ev->status) - status;

    } else {
        s.len = ngx_sprintf(status, "%03ui", ev->status) - status;
    }

    if (ngx_http_kafka_log_add(hs, "ce_specversion", &specversion) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_id", &ev->id) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_source", &ev->source) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_type", &ev->type) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_time", &ev->time) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_httpmethod", &ev->method) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_httppath", &ev->path) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_httpquery", &ev->query) != NGX_OK
        || ngx_http_kafka_log_add(hs, "ce_httpstatus", &s) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ev->subject.len
        && (ngx_http_kafka_log_add(hs, "ce_authtype", &authtype) != NGX_OK
            || ngx_http_kafka_log_add(hs, "ce_authid", &ev->subject)
               != NGX_OK))
    {
        return NGX_ERROR;
    }

    if (ev->request && ev->request->truncated
        && ngx_http_kafka_log_add(hs, "ce_requesttruncated", &yes) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ev->response && ev->response->truncated
        && ngx_http_kafka_log_add(hs, "ce_responsetruncated", &yes)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    h = ev->headers.elts;

    for (i = 0; i < ev->headers.nelts; i++) {
        name.len = sizeof("http-") - 1 + h[i].name.len;
        name.data = ngx_pnalloc(r->pool, name.len);
        if (name.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(name.data, "http-", sizeof("http-") - 1);
        ngx_strlow(p, h[i].name.data, h[i].name.len);

        if (ngx_http_kafka_log_add_n(hs, (char *) name.data, name.len,
                                     &h[i].value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ev->tombstone) {
        value->data = NULL;
        value->len = 0;
        return NGX_OK;
    }

    /* the data: the response body, else the request body, else nothing */

    if (ev->response) {
        data = ev->response;
        type = &ev->response_type;

        if (ev->request) {
            s.data = ev->request->data;
            s.len = ev->request->len;

            if (rd_kafka_header_add(hs, "http-request-body",
                                    sizeof("http-request-body") - 1,
                                    s.len ? s.data : (u_char *) "", s.len)
                != RD_KAFKA_RESP_ERR_NO_ERROR)
            {
                return NGX_ERROR;
            }
        }

    } else if (ev->request) {
        data = ev->request;
        type = &ev->request_type;

    } else {
        data = NULL;
        type = NULL;
    }

    if (type && ngx_http_kafka_log_add(hs, "content-type", type) != NGX_OK) {
        return NGX_ERROR;
    }

    /* an empty value, never a null one: that would be a tombstone */

    value->data = (data && data->len) ? data->data : (u_char *) "";
    value->len = data ? data->len : 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_log_structured(ngx_http_request_t *r,
    ngx_http_kafka_log_event_t *ev, rd_kafka_headers_t *hs, ngx_str_t *value)
{
    u_char                       *p;
    size_t                        len;
    ngx_str_t                     authtype;
    ngx_uint_t                    i;
    ngx_http_kafka_log_header_t  *h;

    static ngx_str_t  type = ngx_string(
                                 "application/cloudevents+json; charset=UTF-8");

    ngx_str_set(&authtype, NGX_HTTP_KAFKA_LOG_AUTHTYPE);

    len = sizeof("{\"specversion\":\"1.0\",\"datacontenttype\":"
                 "\"application/json\",\"httpstatus\":,\"data\":"
                 "{\"request\":{\"headers\":{}},\"response\":{\"status\":},"
                 "\"request_time\":,\"upstream_response_time\":null}}")
          + 2 * NGX_INT_T_LEN
          + ngx_http_kafka_log_json_max(&ev->id)
          + ngx_http_kafka_log_json_max(&ev->source)
          + ngx_http_kafka_log_json_max(&ev->type)
          + ngx_http_kafka_log_json_max(&ev->time)
          + ngx_http_kafka_log_json_max(&ev->method) * 2
          + ngx_http_kafka_log_json_max(&ev->path) * 2
          + ngx_http_kafka_log_json_max(&ev->query)
          + ngx_http_kafka_log_json_max(&ev->subject)
          + ngx_http_kafka_log_json_max(&authtype)
          + ngx_http_kafka_log_json_max(&ev->request_type)
          + ngx_http_kafka_log_json_max(&ev->response_type)
          + ngx_http_kafka_log_json_max(&ev->request_time)
          + ngx_http_kafka_log_json_max(&ev->upstream_time)
          + ngx_http_kafka_log_body_json_len(ev->request)
          + ngx_http_kafka_log_body_json_len(ev->response);

    h = ev->headers.elts;

    for (i = 0; i < ev->headers.nelts; i++) {
        len += ngx_http_kafka_log_json_max(&h[i].name)
               + ngx_http_kafka_log_json_max(&h[i].value);
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->data = p;

    p = ngx_cpymem(p, "{\"specversion\":\"1.0\"",
                   sizeof("{\"specversion\":\"1.0\"") - 1);
    p = ngx_http_kafka_log_json_str(p, "id", &ev->id);
    p = ngx_http_kafka_log_json_str(p, "source", &ev->source);
    p = ngx_http_kafka_log_json_str(p, "type", &ev->type);
    p = ngx_http_kafka_log_json_str(p, "time", &ev->time);
    p = ngx_cpymem(p, ",\"datacontenttype\":\"application/json\"",
                   sizeof(",\"datacontenttype\":\"application/json\"") - 1);
    p = ngx_http_kafka_log_json_str(p, "httpmethod", &ev->method);
    p = ngx_http_kafka_log_json_str(p, "httppath", &ev->path);

    if (ev->query.len) {
        p = ngx_http_kafka_log_json_str(p, "httpquery", &ev->query);
    }

    p = ngx_sprintf(p, ",\"httpstatus\":%ui", ev->status);

    if (ev->subject.len) {
        p = ngx_http_kafka_log_json_str(p, "authtype", &authtype);
        p = ngx_http_kafka_log_json_str(p, "authid", &ev->subject);
    }

    /* data.request */

    p = ngx_cpymem(p, ",\"data\":{\"request\":{\"method\":\"",
                   sizeof(",\"data\":{\"request\":{\"method\":\"") - 1);
    p = ngx_http_kafka_json_escape(p, ev->method.data, ev->method.len);
    *p++ = '"';
    p = ngx_http_kafka_log_json_str(p, "uri", &ev->path);
    p = ngx_http_kafka_log_json_str(p, "args", &ev->query);
    p = ngx_cpymem(p, ",\"headers\":{", sizeof(",\"headers\":{") - 1);

    for (i = 0; i < ev->headers.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_http_kafka_json_escape(p, h[i].name.data, h[i].name.len);
        p = ngx_cpymem(p, "\":\"", 3);
        p = ngx_http_kafka_json_escape(p, h[i].value.data, h[i].value.len);
        *p++ = '"';
    }

    *p++ = '}';

    if (ev->request_type.len) {
        p = ngx_http_kafka_log_json_str(p, "content_type", &ev->request_type);
    }

    p = ngx_http_kafka_log_body_json(p, ev->request);

    /* data.response */

    p = ngx_sprintf(p, "},\"response\":{\"status\":%ui", ev->status);

    if (ev->response_type.len) {
        p = ngx_http_kafka_log_json_str(p, "content_type",
                                        &ev->response_type);
    }

    p = ngx_http_kafka_log_body_json(p, ev->response);

    p = ngx_cpymem(p, "},\"request_time\":", sizeof("},\"request_time\":") - 1);
    p = ngx_cpymem(p, ev->request_time.data, ev->request_time.len);

    if (ev->upstream_time.len) {
        p = ngx_http_kafka_log_json_str(p, "upstream_response_time",
                                        &ev->upstream_time);

    } else {
        p = ngx_cpymem(p, ",\"upstream_response_time\":null",
                       sizeof(",\"upstream_response_time\":null") - 1);
    }

    *p++ = '}';
    *p++ = '}';

    value->len = p - value->data;

    if (value->len > len) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "kafka_log: JSON value overflow (%uz > %uz)",
                      value->len, len);
        return NGX_ERROR;
    }

    return ngx_http_kafka_log_add(hs, "content-type", &type);
}


/* a body as "body" (valid UTF-8) or "body_base64", and "body_truncated" */

static size_t
ngx_http_kafka_log_body_json_len(ngx_http_kafka_log_body_t *b)
{
    if (b == NULL) {
        return 0;
    }

    return sizeof(",\"body_base64\":\"\",\"body_truncated\":false")
           + ngx_max(ngx_http_kafka_json_escape_len(b->data, b->len),
                     ngx_base64_encoded_length(b->len));
}


static u_char *
ngx_http_kafka_log_body_json(u_char *p, ngx_http_kafka_log_body_t *b)
{
    ngx_str_t  src, dst;

    if (b == NULL) {
        return p;
    }

    if (ngx_http_kafka_utf8_valid(b->data, b->len)) {
        p = ngx_cpymem(p, ",\"body\":\"", sizeof(",\"body\":\"") - 1);
        p = ngx_http_kafka_json_escape(p, b->data, b->len);

    } else {
        p = ngx_cpymem(p, ",\"body_base64\":\"",
                       sizeof(",\"body_base64\":\"") - 1);

        src.data = b->data;
        src.len = b->len;
        dst.data = p;

        ngx_encode_base64(&dst, &src);

        p += dst.len;
    }

    if (b->truncated) {
        return ngx_cpymem(p, "\",\"body_truncated\":true",
                          sizeof("\",\"body_truncated\":true") - 1);
    }

    return ngx_cpymem(p, "\",\"body_truncated\":false",
                      sizeof("\",\"body_truncated\":false") - 1);
}


static u_char *
ngx_http_kafka_log_json_str(u_char *p, char *name, ngx_str_t *value)
{
    *p++ = ',';
    *p++ = '"';
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '"';
    *p++ = ':';
    *p++ = '"';
    p = ngx_http_kafka_json_escape(p, value->data, value->len);
    *p++ = '"';

    return p;
}


/* a header with a non-empty value; an empty one is left out */

static ngx_int_t
ngx_http_kafka_log_add_n(rd_kafka_headers_t *hs, const char *name, size_t len,
    ngx_str_t *value)
{
    if (value->len == 0) {
        return NGX_OK;
    }

    if (rd_kafka_header_add(hs, name, len, value->data, value->len)
        != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}

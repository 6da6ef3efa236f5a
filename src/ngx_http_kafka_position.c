
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_sse.h"


static ngx_int_t ngx_http_kafka_sse_last_event_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_kafka_sse_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_kafka_sse_parse_id(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_str_t *id);
static int64_t ngx_http_kafka_sse_parse_time(u_char *p, size_t len);
static ngx_int_t ngx_http_kafka_sse_since_positions(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_http_kafka_resolve_t *rs,
    int64_t *next);
static u_char *ngx_http_kafka_sse_resume_positions(
    ngx_http_kafka_sse_ctx_t *ctx, ngx_http_kafka_resolve_t *rs,
    int64_t *next, u_char *p, u_char *last);
static int64_t ngx_http_kafka_sse_parse_rfc3339(u_char *p, u_char *last);
static ngx_int_t ngx_http_kafka_sse_parse_zone(u_char *p, u_char *last,
    int64_t *frac, int64_t *zone);


static ngx_str_t  ngx_http_kafka_sse_last_event_id_name =
    ngx_string("Last-Event-ID");

static ngx_uint_t  ngx_http_kafka_sse_mdays[] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};


/*
 * Where the stream starts, from the request: a resume id (Last-Event-ID,
 * else ?last_event_id=), else ?since=, else kafka_consume_start.
 * NGX_DECLINED: go on; anything else, NGX_OK included (malformed values
 * are answered 400), is what the content handler returns.
 */

ngx_int_t
ngx_http_kafka_sse_position(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx)
{
    int64_t    since;
    ngx_int_t  rc;
    ngx_str_t  id, value;

    /* the header is what a reconnecting browser sends: it wins */

    rc = ngx_http_kafka_sse_last_event_id(r, &id);
    if (rc != NGX_OK) {
        return rc;
    }

    if (id.len) {
        if (ngx_http_kafka_sse_parse_id(r, ctx, &id) != NGX_OK) {
            return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
                NGX_HTTP_KAFKA_REST_EVENT_ID_INVALID,
                "invalid event id \"%V\": expected "
                "\"partition:offset[,partition:offset...]\" with "
                "partitions in ascending order", &id);
        }

    } else {
        rc = ngx_http_kafka_sse_arg(r, "since", &value);
        if (rc != NGX_OK) {
            return rc;
        }

        if (value.len) {
            since = ngx_http_kafka_sse_parse_time(value.data, value.len);

            if (since < 0) {
                return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
                    NGX_HTTP_KAFKA_REST_SINCE_INVALID,
                    "invalid \"since\" value \"%V\": "
                    "expected milliseconds since the epoch or an "
                    "RFC 3339 time such as 2024-05-01T12:00:00Z", &value);
            }

            ctx->since = since;
        }
    }

    return NGX_DECLINED;
}


/*
 * The resume id: the Last-Event-ID header, else the last_event_id
 * argument (percent-decoded, for a first connection of a client that
 * stored an id).
 */

static ngx_int_t
ngx_http_kafka_sse_last_event_id(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    id->len = 0;
    id->data = NULL;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == ngx_http_kafka_sse_last_event_id_name.len
            && ngx_strncasecmp(h[i].key.data,
                               ngx_http_kafka_sse_last_event_id_name.data,
                               h[i].key.len)
               == 0)
        {
            *id = h[i].value;
            return NGX_OK;
        }
    }

    return ngx_http_kafka_sse_arg(r, "last_event_id", id);
}


/* a percent-decoded argument, empty if absent */

static ngx_int_t
ngx_http_kafka_sse_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   arg;

    value->len = 0;
    value->data = NULL;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &arg) != NGX_OK) {
        return NGX_OK;
    }

    dst = ngx_pnalloc(r->pool, arg.len);
    if (dst == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value->data = dst;
    src = arg.data;

    ngx_unescape_uri(&dst, &src, arg.len, 0);

    value->len = dst - value->data;

    return NGX_OK;
}


/*
 * "0:42,1:17,2:9": partition:next-offset pairs, partitions in ascending
 * order (duplicates are thus impossible).
 */

static ngx_int_t
ngx_http_kafka_sse_parse_id(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_str_t *id)
{
    u_char                    *p, *last;
    int64_t                    offset;
    int32_t                    partition, prev;
    ngx_uint_t                 n, digits;
    ngx_http_kafka_sse_pos_t  *pos;

    p = id->data;
    last = p + id->len;

    for (n = 1; p < last; p++) {
        if (*p == ',') {
            n++;
        }
    }

    if (n > NGX_HTTP_KAFKA_SSE_MAX_PARTITIONS) {
        return NGX_ERROR;
    }

    pos = ngx_palloc(r->pool, n * sizeof(ngx_http_kafka_sse_pos_t));
    if (pos == NULL) {
        return NGX_ERROR;
    }

    p = id->data;
    prev = -1;

    for (n = 0; /* void */; n++) {

        partition = 0;

        for (digits = 0; p < last && *p >= '0' && *p <= '9'; p++, digits++) {
            if (partition > ((int32_t) NGX_MAX_INT32_VALUE - (*p - '0')) / 10) {
                return NGX_ERROR;
            }

            partition = partition * 10 + (*p - '0');
        }

        if (digits == 0 || p == last || *p++ != ':' || partition <= prev) {
            return NGX_ERROR;
        }

        offset = 0;

        for (digits = 0; p < last && *p >= '0' && *p <= '9'; p++, digits++) {
            if (offset > (NGX_HTTP_KAFKA_SSE_MAX_OFFSET - (*p - '0')) / 10) {
                return NGX_ERROR;
            }

            offset = offset * 10 + (*p - '0');
        }

        if (digits == 0) {
            return NGX_ERROR;
        }

        pos[n].partition = partition;
        pos[n].offset = offset;
        prev = partition;

        if (p == last) {
            break;
        }

        if (*p++ != ',') {
            return NGX_ERROR;
        }
    }

    ctx->resume = pos;
    ctx->nresume = n + 1;

    return NGX_OK;
}


/*
 * Milliseconds since the epoch, or an RFC 3339 time with a zone
 * ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.250+02:00").  Returns -1
 * if the value is neither.
 */

static int64_t
ngx_http_kafka_sse_parse_time(u_char *p, size_t len)
{
    u_char      *last;
    int64_t      ms;
    ngx_uint_t   i;

    last = p + len;

    if (len == 0) {
        return -1;
    }

    for (i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        /* void */
    }

    if (i < len) {
        return ngx_http_kafka_sse_parse_rfc3339(p, last);
    }

    if (len > 15) {
        return -1;
    }

    ms = 0;

    while (p < last) {
        ms = ms * 10 + (*p++ - '0');
    }

    return ms;
}


/* YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) */

static int64_t
ngx_http_kafka_sse_parse_rfc3339(u_char *p, u_char *last)
{
    int64_t     ms, days, year, month, day, hour, min, sec, frac, zone;
    ngx_int_t   n;
    ngx_uint_t  i, leap;

    if ((size_t) (last - p) < sizeof("YYYY-MM-DDTHH:MM:SSZ") - 1
        || p[4] != '-' || p[7] != '-'
        || (p[10] != 'T' && p[10] != 't' && p[10] != ' ')
        || p[13] != ':' || p[16] != ':')
    {
        return -1;
    }

    n = ngx_atoi(p, 4);
    year = n;
    month = ngx_atoi(p + 5, 2);
    day = ngx_atoi(p + 8, 2);
    hour = ngx_atoi(p + 11, 2);
    min = ngx_atoi(p + 14, 2);
    sec = ngx_atoi(p + 17, 2);

    if (n == NGX_ERROR || year < 1970 || month < 1 || month > 12
        || day < 1 || hour < 0 || hour > 23 || min < 0 || min > 59
        || sec < 0 || sec > 60)
    {
        return -1;
    }

    leap = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));

    if (day > (int64_t) (ngx_http_kafka_sse_mdays[month - 1]
                         + (month == 2 && leap)))
    {
        return -1;
    }

    if (sec == 60) {
        /* a leap second: the last moment of its minute */
        sec = 59;
    }

    if (ngx_http_kafka_sse_parse_zone(p + 19, last, &frac, &zone) != NGX_OK) {
        return -1;
    }

    /* days from 1970-01-01 to the date, in the proleptic Gregorian calendar */

    days = (year - 1970) * 365 + (year - 1969) / 4 - (year - 1901) / 100
           + (year - 1601) / 400;

    for (i = 0; i < (ngx_uint_t) month - 1; i++) {
        days += ngx_http_kafka_sse_mdays[i];
    }

    if (month > 2 && leap) {
        days++;
    }

    days += day - 1;

    ms = (((days * 24 + hour) * 60 + min) * 60 + sec - zone) * 1000 + frac;

    return (ms < 0) ? -1 : ms;
}


/*
 * What follows the seconds: an optional fraction (milliseconds are kept)
 * and the zone, as seconds east of UTC; nothing may follow the zone.
 */

static ngx_int_t
ngx_http_kafka_sse_parse_zone(u_char *p, u_char *last, int64_t *frac,
    int64_t *zone)
{
    ngx_int_t   n;
    ngx_uint_t  i;

    *frac = 0;

    if (p < last && *p == '.') {
        p++;

        for (i = 0; p < last && *p >= '0' && *p <= '9'; p++, i++) {
            if (i < 3) {
                *frac = *frac * 10 + (*p - '0');
            }
        }

        if (i == 0) {
            return NGX_ERROR;
        }

        for ( /* void */ ; i < 3; i++) {
            *frac *= 10;
        }
    }

    if (p == last) {
        return NGX_ERROR;
    }

    if (*p == 'Z' || *p == 'z') {
        *zone = 0;
        p++;

    } else if ((*p == '+' || *p == '-') && last - p == 6 && p[3] == ':') {
        n = ngx_atoi(p + 1, 2);
        *zone = ngx_atoi(p + 4, 2);

        if (n < 0 || n > 23 || *zone < 0 || *zone > 59) {
            return NGX_ERROR;
        }

        *zone = (n * 60 + *zone) * 60;

        if (*p == '-') {
            *zone = -*zone;
        }

        p += 6;

    } else {
        return NGX_ERROR;
    }

    return (p == last) ? NGX_OK : NGX_ERROR;
}


/* "id: 0:42,1:17\n\n": the next offset of every partition */

u_char *
ngx_http_kafka_sse_write_id(u_char *p, ngx_http_kafka_sse_ctx_t *ctx)
{
    int32_t   i;
    int64_t  *next;

    next = ctx->sub.next;

    p = ngx_cpymem(p, "id: ", sizeof("id: ") - 1);

    for (i = 0; i < ctx->sub.npartitions; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "%D:%L", i, next[i]);
    }

    *p++ = '\n';
    *p++ = '\n';

    ctx->id_stale = 0;

    return p;
}


/*
 * Every partition's start position (ctx->sub.next), from "since", the
 * resume id or kafka_consume_start; comment lines about adjusted
 * positions are written at "p".  Returns the end of what was written, or
 * NULL on an allocation failure.
 */

u_char *
ngx_http_kafka_sse_start_positions(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_http_kafka_resolve_t *rs, u_char *p,
    u_char *last)
{
    int64_t     *next;
    ngx_uint_t   i;

    next = ngx_palloc(r->pool, rs->npartitions * sizeof(int64_t));
    if (next == NULL) {
        return NULL;
    }

    if (ctx->since >= 0 && rs->at) {
        if (ngx_http_kafka_sse_since_positions(r, ctx, rs, next) != NGX_OK) {
            return NULL;
        }

    } else if (ctx->resume) {
        p = ngx_http_kafka_sse_resume_positions(ctx, rs, next, p, last);

    } else {
        for (i = 0; i < (ngx_uint_t) rs->npartitions; i++) {
            next[i] = (ctx->conf->start == NGX_HTTP_KAFKA_SSE_EARLIEST)
                      ? rs->low[i] : rs->high[i];
        }
    }

    ctx->sub.next = next;
    ctx->sub.npartitions = rs->npartitions;

    return p;
}


/*
 * "since": every partition starts at the first offset at or after the
 * time; past the log end at the end, before the log start at the start.
 * A partition without a time index is read from its start and skipped
 * up to the time record by record.
 */

static ngx_int_t
ngx_http_kafka_sse_since_positions(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_http_kafka_resolve_t *rs,
    int64_t *next)
{
    int64_t     want;
    ngx_uint_t  i;

    for (i = 0; i < (ngx_uint_t) rs->npartitions; i++) {
        want = rs->at[i];

        if (want == NGX_HTTP_KAFKA_OFFSET_SCAN) {
            if (ctx->skipping == NULL) {
                ctx->skipping = ngx_pcalloc(r->pool, rs->npartitions);
                if (ctx->skipping == NULL) {
                    return NGX_ERROR;
                }
            }

            ctx->skipping[i] = 1;
            want = rs->low[i];

        } else if (want < 0 || want > rs->high[i]) {
            want = rs->high[i];

        } else if (want < rs->low[i]) {
            want = rs->low[i];
        }

        next[i] = want;
    }

    return NGX_OK;
}


/*
 * A resume id: every partition continues where the id says, moved into
 * the log if records were deleted or the id is ahead of the log; each
 * adjustment is told in a comment line written at "p".  Partitions the
 * id does not name are new and are read from their start.
 */

static u_char *
ngx_http_kafka_sse_resume_positions(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_resolve_t *rs, int64_t *next, u_char *p, u_char *last)
{
    int32_t     n, part;
    int64_t     want;
    ngx_uint_t  i;

    n = rs->npartitions;

    for (i = 0; i < ctx->nresume; i++) {
        part = ctx->resume[i].partition;
        want = ctx->resume[i].offset;

        if (part >= n) {
            p = ngx_slprintf(p, last, ": partition %D of the id does not "
                             "exist, ignored\n", part);
            continue;
        }

        if (want < rs->low[part]) {
            p = ngx_slprintf(p, last, ": partition %D: offset %L is "
                             "before the log start, resuming at %L "
                             "(records %L to %L were deleted)\n",
                             part, want, rs->low[part], want,
                             rs->low[part] - 1);
            want = rs->low[part];

        } else if (want > rs->high[part]) {
            p = ngx_slprintf(p, last, ": partition %D: offset %L is "
                             "past the log end, resuming at %L\n",
                             part, want, rs->high[part]);
            want = rs->high[part];
        }

        next[part] = want;
    }

    for (part = 0, i = 0; part < n; part++) {
        while (i < ctx->nresume && ctx->resume[i].partition < part) {
            i++;
        }

        if (i < ctx->nresume && ctx->resume[i].partition == part) {
            continue;
        }

        next[part] = rs->low[part];

        p = ngx_slprintf(p, last, ": partition %D is not in the id, "
                         "reading it from its log start %L\n",
                         part, rs->low[part]);
    }

    return p;
}

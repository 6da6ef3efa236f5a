
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <string.h>
#include <arpa/inet.h>

#include "ngx_http_kafka_schema.h"


/*
 * The formats that assert when kafka_produce_validation_formats is on
 * (JSON Schema's "format" is an annotation otherwise): date-time, date
 * (RFC 3339), email (RFC 5321's dot-atom local part at a host name or an
 * address literal), uuid (RFC 4122's hex form), ipv4, ipv6, uri (RFC
 * 3986, absolute).
 */


static int ngx_http_kafka_schema_format_date(const char *s, size_t len);
static int ngx_http_kafka_schema_format_time(const char *s, size_t len,
    int *hour, int *minute, int *second, int *offset);
static int ngx_http_kafka_schema_format_date_time(const char *s, size_t len);
static int ngx_http_kafka_schema_format_email(const char *s, size_t len);
static int ngx_http_kafka_schema_format_hostname(const char *s, size_t len);
static int ngx_http_kafka_schema_format_uuid(const char *s, size_t len);
static int ngx_http_kafka_schema_format_ipv4(const char *s, size_t len);
static int ngx_http_kafka_schema_format_ipv6(const char *s, size_t len);
static int ngx_http_kafka_schema_format_uri(const char *s, size_t len);
static int ngx_http_kafka_schema_format_authority(const char *s,
    size_t len);


int
ngx_http_kafka_schema_format(const char *format, const char *s, size_t len)
{
    if (strcmp(format, "date-time") == 0) {
        return ngx_http_kafka_schema_format_date_time(s, len);
    }

    if (strcmp(format, "date") == 0) {
        return ngx_http_kafka_schema_format_date(s, len);
    }

    if (strcmp(format, "email") == 0) {
        return ngx_http_kafka_schema_format_email(s, len);
    }

    if (strcmp(format, "uuid") == 0) {
        return ngx_http_kafka_schema_format_uuid(s, len);
    }

    if (strcmp(format, "ipv4") == 0) {
        return ngx_http_kafka_schema_format_ipv4(s, len);
    }

    if (strcmp(format, "ipv6") == 0) {
        return ngx_http_kafka_schema_format_ipv6(s, len);
    }

    if (strcmp(format, "uri") == 0) {
        return ngx_http_kafka_schema_format_uri(s, len);
    }

    return -1;
}


static int
ngx_http_kafka_schema_format_digits(const char *s, size_t n)
{
    int     v;
    size_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    return v;
}


/* full-date: YYYY-MM-DD with the days of the month, leap years too */

static int
ngx_http_kafka_schema_format_date(const char *s, size_t len)
{
    int  y, m, d, days;

    static const int  mdays[] = { 31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31 };

    if (len != 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }

    y = ngx_http_kafka_schema_format_digits(s, 4);
    m = ngx_http_kafka_schema_format_digits(s + 5, 2);
    d = ngx_http_kafka_schema_format_digits(s + 8, 2);

    if (y < 0 || m < 1 || m > 12 || d < 1) {
        return 0;
    }

    days = mdays[m - 1];

    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
        days = 29;
    }

    return d <= days;
}


/* full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); offset in minutes */

static int
ngx_http_kafka_schema_format_time(const char *s, size_t len, int *hour,
    int *minute, int *second, int *offset)
{
    int          oh, om;
    size_t       i;
    const char  *o;

    if (len < 9 || s[2] != ':' || s[5] != ':') {
        return 0;
    }

    *hour = ngx_http_kafka_schema_format_digits(s, 2);
    *minute = ngx_http_kafka_schema_format_digits(s + 3, 2);
    *second = ngx_http_kafka_schema_format_digits(s + 6, 2);

    if (*hour < 0 || *hour > 23 || *minute < 0 || *minute > 59
        || *second < 0 || *second > 60)
    {
        return 0;
    }

    i = 8;

    if (s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            /* void */
        }

        if (i == 9) {
            return 0;
        }
    }

    o = s + i;

    if (len - i == 1 && (*o == 'Z' || *o == 'z')) {
        *offset = 0;
        return 1;
    }

    if (len - i != 6 || (*o != '+' && *o != '-') || o[3] != ':') {
        return 0;
    }

    oh = ngx_http_kafka_schema_format_digits(o + 1, 2);
    om = ngx_http_kafka_schema_format_digits(o + 4, 2);

    if (oh < 0 || oh > 23 || om < 0 || om > 59) {
        return 0;
    }

    *offset = (*o == '+' ? 1 : -1) * (oh * 60 + om);

    return 1;
}


static int
ngx_http_kafka_schema_format_date_time(const char *s, size_t len)
{
    int  h, m, sec, off, utc;

    if (len < 20 || (s[10] != 'T' && s[10] != 't')
        || !ngx_http_kafka_schema_format_date(s, 10)
        || !ngx_http_kafka_schema_format_time(s + 11, len - 11, &h, &m, &sec,
                                              &off))
    {
        return 0;
    }

    if (sec == 60) {
        /* a leap second is 23:59:60 in UTC */
        utc = ((h * 60 + m - off) % 1440 + 1440) % 1440;

        if (utc != 23 * 60 + 59) {
            return 0;
        }
    }

    return 1;
}


static int
ngx_http_kafka_schema_format_email(const char *s, size_t len)
{
    size_t       i, at;
    const char  *atext = "!#$%&'*+-/=?^_`{|}~";

    for (at = len; at > 0 && s[at - 1] != '@'; at--) { /* void */ }

    if (at < 2 || at == len) {
        return 0;
    }

    at--;

    if (s[0] == '"') {
        /* quoted-string: printable ASCII, \\ and \" escapes */
        for (i = 1; i < at - 1; i++) {
            if (s[i] == '\\') {
                i++;

            } else if (s[i] == '"' || (unsigned char) s[i] < 0x20
                       || (unsigned char) s[i] > 0x7e)
            {
                return 0;
            }
        }

        if (at < 2 || i != at - 1 || s[at - 1] != '"') {
            return 0;
        }

    } else if (s[0] == '.' || s[at - 1] == '.') {
        /* dot-atom: no leading, trailing or doubled dot */
        return 0;
    }

    for (i = (s[0] == '"') ? at : 0; i < at; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return 0;
            }

            continue;
        }

        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || strchr(atext, s[i]))
            || s[i] == '\0')
        {
            return 0;
        }
    }

    s += at + 1;
    len -= at + 1;

    if (len > 2 && s[0] == '[' && s[len - 1] == ']') {
        if (len > 7 && strncmp(s + 1, "IPv6:", 5) == 0) {
            return ngx_http_kafka_schema_format_ipv6(s + 6, len - 7);
        }

        return ngx_http_kafka_schema_format_ipv4(s + 1, len - 2);
    }

    return ngx_http_kafka_schema_format_hostname(s, len);
}


static int
ngx_http_kafka_schema_format_hostname(const char *s, size_t len)
{
    size_t  i, label;

    if (len == 0 || len > 253) {
        return 0;
    }

    label = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (label == 0 || s[i - 1] == '-') {
                return 0;
            }

            label = 0;
            continue;
        }

        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
        {
            return 0;
        }

        if ((s[i] == '-' && label == 0) || ++label > 63) {
            return 0;
        }
    }

    return label > 0 && s[len - 1] != '-';
}


static int
ngx_http_kafka_schema_format_uuid(const char *s, size_t len)
{
    size_t  i;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (!((s[i] >= '0' && s[i] <= '9')
                     || (s[i] >= 'a' && s[i] <= 'f')
                     || (s[i] >= 'A' && s[i] <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


static int
ngx_http_kafka_schema_format_ipv4(const char *s, size_t len)
{
    int     octets, v, digits;
    size_t  i;

    octets = 0;
    v = 0;
    digits = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (digits == 0 || v > 255) {
                return 0;
            }

            octets++;
            v = 0;
            digits = 0;
            continue;
        }

        if (s[i] < '0' || s[i] > '9' || (digits == 1 && v == 0)
            || digits == 3)
        {
            return 0;      /* not a digit, a leading zero, a fourth digit */
        }

        v = v * 10 + (s[i] - '0');
        digits++;
    }

    return octets == 4;
}


static int
ngx_http_kafka_schema_format_ipv6(const char *s, size_t len)
{
    char             buf[64];
    struct in6_addr  addr;

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len)) {
        return 0;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    return inet_pton(AF_INET6, buf, &addr) == 1;
}


/* an absolute URI: scheme ":" then URI characters and %XX escapes */

static int
ngx_http_kafka_schema_format_uri(const char *s, size_t len)
{
    size_t       i;
    const char  *allowed = "-._~:/?#[]@!$&'()*+,;=";

    if (len == 0
        || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    {
        return 0;
    }

    for (i = 1; i < len && s[i] != ':'; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        {
            return 0;
        }
    }

    if (i == len) {
        return 0;
    }

    if (i + 2 < len && s[i + 1] == '/' && s[i + 2] == '/'
        && !ngx_http_kafka_schema_format_authority(s + i + 3, len - i - 3))
    {
        return 0;
    }

    for (i++; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len
                || !strchr("0123456789abcdefABCDEF", s[i + 1])
                || !strchr("0123456789abcdefABCDEF", s[i + 2])
                || s[i + 1] == '\0' || s[i + 2] == '\0')
            {
                return 0;
            }

            i += 2;
            continue;
        }

        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9'))
            && (s[i] == '\0' || !strchr(allowed, s[i])))
        {
            return 0;
        }
    }

    return 1;
}


/* [userinfo@]host[:port]: brackets only around an IP literal */

static int
ngx_http_kafka_schema_format_authority(const char *s, size_t len)
{
    size_t       i, end, at, colon;
    const char  *close;

    for (end = 0; end < len && s[end] != '/' && s[end] != '?'
                  && s[end] != '#'; end++)
    {
        /* void */
    }

    at = 0;

    for (i = 0; i < end; i++) {
        if (s[i] == '@') {
            at = i + 1;
        }
    }

    for (i = 0; at && i < at - 1; i++) {
        if (s[i] == '[' || s[i] == ']') {
            return 0;
        }
    }

    s += at;
    end -= at;
    colon = end;

    if (end && s[0] == '[') {
        close = memchr(s, ']', end);
        if (close == NULL) {
            return 0;
        }

        i = close - s + 1;

    } else {
        for (i = 0; i < end && s[i] != ':'; i++) {
            if (s[i] == '[' || s[i] == ']') {
                return 0;
            }
        }
    }

    if (i < end) {
        if (s[i] != ':') {
            return 0;
        }

        for (colon = i + 1; colon < end; colon++) {
            if (s[colon] < '0' || s[colon] > '9') {
                return 0;
            }
        }
    }

    /* the rest of the URI may not hold brackets */
    s += end;

    for (i = 0; i < len - at - end; i++) {
        if (s[i] == '[' || s[i] == ']') {
            return 0;
        }
    }

    return 1;
}

/*
 * kafka-dev-dump: prints every record of a topic, as it is in Kafka, one
 * JSON object per line, sorted by partition and offset.  For tests and
 * debugging; not part of the module.
 *
 *   kafka-dev-dump -b BROKERS -t TOPIC [-p PARTITION] [-T TIMEOUT_MS]
 *
 * Each line: {"partition":P,"offset":O,"timestamp":MS,
 *             "key":TEXT|null,"key_b64":B64|null,
 *             "value":TEXT|null,"value_b64":B64|null,
 *             "headers":[[NAME,TEXT|null,B64|null],...]}
 * TEXT is null when the bytes are not valid UTF-8; B64 is null only for a
 * null key, value or header value.
 *
 * Reads from each partition's low to its high watermark at start (a
 * snapshot) with assign(): the group id only satisfies the API, nothing
 * joins a group or commits.  Exit status 1 with a message on stderr if the
 * broker says the topic does not exist (the dev broker creates topics on
 * first use, so there a missing topic dumps as empty) or cannot be reached
 * within the timeout (default 10 s).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>


typedef struct {
    int32_t   partition;
    int64_t   offset;
    char     *line;
} record_t;


static record_t  *records;
static size_t     nrecords, records_cap;


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int
valid_utf8(const unsigned char *p, size_t len)
{
    size_t  i = 0, n, k;
    uint32_t cp;

    while (i < len) {
        unsigned char  c = p[i];

        if (c < 0x80) {
            i++;
            continue;
        }

        if ((c & 0xe0) == 0xc0) {
            n = 1; cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2; cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3; cp = c & 0x07;
        } else {
            return 0;
        }

        for (k = 1; k <= n; k++) {
            if (i + k >= len || (p[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }

        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800)
            || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff))
        {
            return 0;
        }

        i += n + 1;
    }

    return 1;
}


static json_t *
b64(const unsigned char *p, size_t len)
{
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char     *out, *o;
    size_t    i;
    json_t   *j;

    out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }

    o = out;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = tab[p[i] >> 2];
        *o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *o++ = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        *o++ = tab[p[i + 2] & 63];
    }

    if (len - i == 1) {
        *o++ = tab[p[i] >> 2];
        *o++ = tab[(p[i] & 3) << 4];
        *o++ = '=';
        *o++ = '=';

    } else if (len - i == 2) {
        *o++ = tab[p[i] >> 2];
        *o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *o++ = tab[(p[i + 1] & 15) << 2];
        *o++ = '=';
    }

    *o = '\0';

    j = json_string(out);
    free(out);
    return j;
}


static void
set_bytes(json_t *obj, const char *text_name, const char *b64_name,
          const void *p, size_t len)
{
    if (p == NULL) {
        json_object_set_new(obj, text_name, json_null());
        json_object_set_new(obj, b64_name, json_null());
        return;
    }

    json_object_set_new(obj, text_name,
                        valid_utf8(p, len) ? json_stringn(p, len)
                                           : json_null());
    json_object_set_new(obj, b64_name, b64(p, len));
}


static json_t *
header_entry(const char *name, const void *p, size_t len)
{
    json_t  *a = json_array();

    json_array_append_new(a, json_string(name));

    if (p == NULL) {
        json_array_append_new(a, json_null());
        json_array_append_new(a, json_null());

    } else {
        json_array_append_new(a, valid_utf8(p, len) ? json_stringn(p, len)
                                                    : json_null());
        json_array_append_new(a, b64(p, len));
    }

    return a;
}


static int
add_record(rd_kafka_message_t *m)
{
    rd_kafka_headers_t  *hdrs = NULL;
    rd_kafka_timestamp_type_t  tstype;
    json_t              *obj, *headers;
    const char          *name;
    const void          *val;
    size_t               vlen, i;
    char                *line;

    obj = json_object();
    json_object_set_new(obj, "partition", json_integer(m->partition));
    json_object_set_new(obj, "offset", json_integer(m->offset));
    json_object_set_new(obj, "timestamp",
                        json_integer(rd_kafka_message_timestamp(m, &tstype)));

    set_bytes(obj, "key", "key_b64", m->key, m->key_len);
    set_bytes(obj, "value", "value_b64", m->payload, m->len);

    headers = json_array();

    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen)
                    == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
        {
            json_array_append_new(headers, header_entry(name, val, vlen));
        }
    }

    json_object_set_new(obj, "headers", headers);

    line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);

    if (line == NULL) {
        return -1;
    }

    if (nrecords == records_cap) {
        size_t     cap = records_cap ? records_cap * 2 : 256;
        record_t  *r = realloc(records, cap * sizeof(*r));

        if (r == NULL) {
            free(line);
            return -1;
        }

        records = r;
        records_cap = cap;
    }

    records[nrecords].partition = m->partition;
    records[nrecords].offset = m->offset;
    records[nrecords].line = line;
    nrecords++;

    return 0;
}


static int
cmp_record(const void *a, const void *b)
{
    const record_t  *x = a, *y = b;

    if (x->partition != y->partition) {
        return x->partition < y->partition ? -1 : 1;
    }

    return x->offset < y->offset ? -1 : (x->offset > y->offset);
}


static void
usage(void)
{
    fprintf(stderr, "usage: kafka-dev-dump -b BROKERS -t TOPIC "
                    "[-p PARTITION] [-T TIMEOUT_MS]\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    char                              errstr[512];
    const char                       *brokers = NULL, *topic = NULL;
    long                              only = -1, timeout = 10000;
    int                               opt, i, rc = 1, pending, np;
    int64_t                           deadline, low, high, *highs = NULL;
    rd_kafka_conf_t                  *conf;
    rd_kafka_t                       *rk;
    rd_kafka_topic_t                 *rkt = NULL;
    const struct rd_kafka_metadata   *md = NULL;
    rd_kafka_topic_partition_list_t  *assign = NULL;
    rd_kafka_resp_err_t               err;

    while ((opt = getopt(argc, argv, "b:t:p:T:")) != -1) {
        switch (opt) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'p':
            only = strtol(optarg, NULL, 10);
            break;
        case 'T':
            timeout = strtol(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }

    if (brokers == NULL || topic == NULL || timeout <= 0) {
        usage();
    }

    deadline = now_ms() + timeout;

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "allow.auto.create.topics", "false",
                             errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "group.id", "kafka-dev-dump", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "enable.partition.eof", "false",
                             errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "log_level", "0", errstr,
                             sizeof(errstr)) != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "kafka-dev-dump: %s\n", errstr);
        return 1;
    }

    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "kafka-dev-dump: %s\n", errstr);
        return 1;
    }

    rkt = rd_kafka_topic_new(rk, topic, NULL);

    /* metadata: retry while the cluster is still coming up */
    for ( ;; ) {
        err = rd_kafka_metadata(rk, 0, rkt, &md, 2000);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1
            && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
            && md->topics[0].partition_cnt > 0)
        {
            break;
        }

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1
            && (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                || md->topics[0].err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC))
        {
            fprintf(stderr, "kafka-dev-dump: unknown topic %s\n", topic);
            goto out;
        }

        if (md) {
            rd_kafka_metadata_destroy(md);
            md = NULL;
        }

        if (now_ms() >= deadline) {
            fprintf(stderr, "kafka-dev-dump: no metadata for %s: %s\n",
                    topic, rd_kafka_err2str(err));
            goto out;
        }

        usleep(100 * 1000);
    }

    np = md->topics[0].partition_cnt;

    if (only >= np) {
        fprintf(stderr, "kafka-dev-dump: %s has no partition %ld\n",
                topic, only);
        goto out;
    }

    highs = calloc((size_t) np, sizeof(*highs));
    assign = rd_kafka_topic_partition_list_new(np);
    pending = 0;

    for (i = 0; i < np; i++) {
        int32_t  p = md->topics[0].partitions[i].id;

        highs[i] = -1;

        if (only >= 0 && p != only) {
            continue;
        }

        for ( ;; ) {
            err = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high,
                                                   2000);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                break;
            }

            if (now_ms() >= deadline) {
                fprintf(stderr, "kafka-dev-dump: %s [%d]: watermarks: %s\n",
                        topic, p, rd_kafka_err2str(err));
                goto out;
            }

            usleep(100 * 1000);
        }

        if (p < np && high > low) {
            highs[p] = high;
            rd_kafka_topic_partition_list_add(assign, topic, p)->offset = low;
            pending++;
        }
    }

    if (pending == 0) {
        rc = 0;
        goto out;
    }

    err = rd_kafka_assign(rk, assign);
    if (err) {
        fprintf(stderr, "kafka-dev-dump: assign: %s\n", rd_kafka_err2str(err));
        goto out;
    }

    while (pending > 0) {
        rd_kafka_message_t  *m;

        if (now_ms() >= deadline) {
            fprintf(stderr, "kafka-dev-dump: timed out with %d partitions "
                            "not read to the end\n", pending);
            goto out;
        }

        m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) {
            continue;
        }

        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "kafka-dev-dump: %s\n",
                        rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }

        if (m->partition >= 0 && m->partition < np
            && m->offset < highs[m->partition])
        {
            if (add_record(m) != 0) {
                fprintf(stderr, "kafka-dev-dump: out of memory\n");
                rd_kafka_message_destroy(m);
                goto out;
            }

            if (m->offset == highs[m->partition] - 1) {
                highs[m->partition] = -1;
                pending--;
            }
        }

        rd_kafka_message_destroy(m);
    }

    qsort(records, nrecords, sizeof(*records), cmp_record);

    for (i = 0; i < (int) nrecords; i++) {
        puts(records[i].line);
    }

    rc = 0;

out:

    for (i = 0; i < (int) nrecords; i++) {
        free(records[i].line);
    }
    free(records);
    free(highs);

    if (assign) {
        rd_kafka_topic_partition_list_destroy(assign);
    }
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    if (rkt) {
        rd_kafka_topic_destroy(rkt);
    }

    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    return fflush(stdout) == 0 ? rc : 1;
}

/*
 * wire: reference B of the produce benchmark.  librdkafka producing
 * directly, with the gateway's producer settings, so the gateway's figures
 * can be read against what the client library does on the same machine.
 *
 *   wire -b BROKERS -t TOPIC [-s SIZE] [-d SECONDS] [-w WINDOW]
 *        [-X name=value ...]
 *
 * Keeps WINDOW messages in flight (default 64, like 64 HTTP connections
 * each waiting for its ack); WINDOW 0 means no bound but librdkafka's own
 * queue.  Every message's latency is from rd_kafka_producev() to its
 * delivery report.  Prints one line:
 *
 *   msgs=N failed=F secs=S msgs_per_s=R p50_ms=.. p99_ms=.. cpu_s=..
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <librdkafka/rdkafka.h>


/* latency histogram: 10 microsecond buckets up to 1 s, then one bucket */
#define HIST_STEP_US  10
#define HIST_BUCKETS  100001


static uint64_t   hist[HIST_BUCKETS];
static uint64_t   nhist;
static long       inflight;
static uint64_t   delivered, failed;


static uint64_t
now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static double
percentile(double p)
{
    uint64_t  want, seen;
    size_t    i;

    if (nhist == 0) {
        return 0;
    }

    want = (uint64_t) (p * nhist);
    if (want >= nhist) {
        want = nhist - 1;
    }

    seen = 0;

    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen > want) {
            return (double) (i * HIST_STEP_US) / 1000.0;
        }
    }

    return (double) ((HIST_BUCKETS - 1) * HIST_STEP_US) / 1000.0;
}


static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    uint64_t  sent, lat;

    (void) rk;
    (void) opaque;

    inflight--;

    if (msg->err) {
        failed++;
        return;
    }

    delivered++;

    sent = (uint64_t) (uintptr_t) msg->_private;
    lat = (now_us() - sent) / HIST_STEP_US;

    hist[lat < HIST_BUCKETS ? lat : HIST_BUCKETS - 1]++;
    nhist++;
}


static double
cpu_seconds(void)
{
    struct rusage  ru;

    getrusage(RUSAGE_SELF, &ru);

    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}


static void
set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char  errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr))
        != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "wire: %s=%s: %s\n", name, value, errstr);
        exit(2);
    }
}


int
main(int argc, char **argv)
{
    int                 opt;
    long                window;
    char               *eq, *payload, errstr[512];
    size_t              size;
    double              seconds, cpu0, secs;
    uint64_t            start, end, produced;
    const char         *brokers, *topic;
    rd_kafka_t         *rk;
    rd_kafka_conf_t    *conf;
    rd_kafka_resp_err_t err;

    brokers = NULL;
    topic = NULL;
    size = 1024;
    seconds = 5;
    window = 64;

    conf = rd_kafka_conf_new();

    /* the gateway's producer defaults (src/ngx_http_kafka_module.c) */
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    set(conf, "linger.ms", "0.5");
    set(conf, "client.id", "nginx-kafka-gateway-bench-wire");

    while ((opt = getopt(argc, argv, "b:t:s:d:w:X:")) != -1) {
        switch (opt) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 's':
            size = (size_t) atol(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        case 'w':
            window = atol(optarg);
            break;
        case 'X':
            eq = strchr(optarg, '=');
            if (eq == NULL) {
                fprintf(stderr, "wire: -X takes name=value\n");
                return 2;
            }
            *eq = '\0';
            set(conf, optarg, eq + 1);
            break;
        default:
            fprintf(stderr, "usage: wire -b BROKERS -t TOPIC [-s SIZE] "
                            "[-d SECONDS] [-w WINDOW] [-X name=value]\n");
            return 2;
        }
    }

    if (brokers == NULL || topic == NULL) {
        fprintf(stderr, "wire: -b and -t are required\n");
        return 2;
    }

    set(conf, "bootstrap.servers", brokers);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "wire: %s\n", errstr);
        return 1;
    }

    payload = malloc(size ? size : 1);
    if (payload == NULL) {
        return 1;
    }

    memset(payload, 'x', size);

    /* one acknowledged message first: metadata and the producer id */

    err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                            RD_KAFKA_V_VALUE(payload, size),
                            RD_KAFKA_V_OPAQUE((void *) (uintptr_t) now_us()),
                            RD_KAFKA_V_END);
    if (err) {
        fprintf(stderr, "wire: %s\n", rd_kafka_err2str(err));
        return 1;
    }

    inflight = 1;
    rd_kafka_flush(rk, 10000);

    if (delivered != 1) {
        fprintf(stderr, "wire: the first message was not delivered\n");
        return 1;
    }

    memset(hist, 0, sizeof(hist));
    nhist = 0;
    delivered = 0;
    produced = 0;

    cpu0 = cpu_seconds();
    start = now_us();
    end = start + (uint64_t) (seconds * 1e6);

    while (now_us() < end) {

        while (window == 0 || inflight < window) {
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_VALUE(payload, size),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_OPAQUE((void *) (uintptr_t)
                                                      now_us()),
                                    RD_KAFKA_V_END);

            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                break;
            }

            if (err) {
                fprintf(stderr, "wire: %s\n", rd_kafka_err2str(err));
                return 1;
            }

            inflight++;
            produced++;
        }

        rd_kafka_poll(rk, 1);
    }

    /* what was sent in the window is waited for and counted */

    rd_kafka_flush(rk, 30000);
    secs = (double) (now_us() - start) / 1e6;

    printf("msgs=%llu failed=%llu secs=%.3f msgs_per_s=%.0f p50_ms=%.3f "
           "p99_ms=%.3f cpu_s=%.3f\n",
           (unsigned long long) delivered, (unsigned long long) failed,
           secs, delivered / secs, percentile(0.50), percentile(0.99),
           cpu_seconds() - cpu0);

    rd_kafka_destroy(rk);
    free(payload);

    return (failed || delivered != produced) ? 1 : 0;
}

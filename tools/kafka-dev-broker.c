/*
 * kafka-dev-broker: librdkafka's Kafka-protocol mock cluster as a
 * standalone process, for development and tests.  Not part of the module.
 *
 *   kafka-dev-broker [-n BROKERS] [-p PARTITIONS] [-f INFO_FILE]
 *                    [-c CONTROL_PORT] [-q] [TOPIC[:PARTITIONS]...]
 *
 * Prints "bootstrap=HOST:PORT,...", "control=127.0.0.1:PORT" and "ready"
 * on stdout and writes the same lines atomically to INFO_FILE.  Every
 * topic created ("topic NAME PARTITIONS"), every control command ("> ...")
 * and its reply ("< ...") is appended to INFO_FILE.log.
 *
 * Control: connect to the control port and send one command per line;
 * each gets one reply line, "ok ..." or "error ...":
 *
 *   ping                          ok pong
 *   bootstrap                     ok HOST:PORT,...
 *   down ID|all                   broker(s) stop answering (connections
 *   up ID|all                     are closed, new ones refused)
 *   rtt ID|all MS                 add MS milliseconds to every response
 *   errors APIKEY COUNT ERROR     the next COUNT requests of APIKEY (a
 *                                 number or Produce, Fetch, ListOffsets,
 *                                 Metadata, ...) fail with ERROR (a name
 *                                 such as NOT_LEADER_FOR_PARTITION, or a
 *                                 number)
 *   topic NAME PARTITIONS [REPL]  create a topic
 *   leader TOPIC PARTITION ID     broker ID leads that partition (the mock
 *                                 picks leaders at random otherwise)
 *   quit                          exit
 *
 * Exits cleanly on SIGTERM and SIGINT.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>


#define MAX_CLIENTS  32
#define LINE_MAX_LEN 1024


typedef struct {
    int     fd;
    size_t  len;
    char    buf[LINE_MAX_LEN];
} client_t;


static int                       sig_pipe[2] = { -1, -1 };
static rd_kafka_mock_cluster_t  *mcluster;
static int                       nbrokers = 3;
static const char               *info_file;
static int                       quiet;


static void
on_signal(int signo)
{
    int   saved = errno;
    char  c = (char) signo;

    if (write(sig_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a wakeup is already pending */
    }

    errno = saved;
}


static void
log_line(const char *fmt, ...)
{
    char     path[4096];
    FILE    *f;
    va_list  ap;

    if (!quiet) {
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }

    if (info_file == NULL) {
        return;
    }

    snprintf(path, sizeof(path), "%s.log", info_file);
    f = fopen(path, "a");
    if (f == NULL) {
        return;
    }

    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}


static int
write_info(const char *text)
{
    char   tmp[4096];
    FILE  *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", info_file, (int) getpid());

    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "kafka-dev-broker: %s: %s\n", tmp, strerror(errno));
        return -1;
    }

    fputs(text, f);

    if (fclose(f) != 0 || rename(tmp, info_file) != 0) {
        fprintf(stderr, "kafka-dev-broker: %s: %s\n", info_file,
                strerror(errno));
        unlink(tmp);
        return -1;
    }

    return 0;
}


static int
parse_int(const char *s, long min, long max, long *out)
{
    char  *end;
    long   v;

    if (s == NULL || *s == '\0') {
        return -1;
    }

    errno = 0;
    v = strtol(s, &end, 10);

    if (errno || *end != '\0' || v < min || v > max) {
        return -1;
    }

    *out = v;
    return 0;
}


static int
create_topic(const char *name, long parts, long repl)
{
    rd_kafka_resp_err_t  err;

    if (repl <= 0) {
        repl = nbrokers < 3 ? nbrokers : 3;
    }

    err = rd_kafka_mock_topic_create(mcluster, name, (int) parts, (int) repl);
    if (err) {
        return -1;
    }

    log_line("topic %s %ld", name, parts);
    return 0;
}


static const struct {
    const char  *name;
    int16_t      key;
} api_keys[] = {
    { "Produce", 0 }, { "Fetch", 1 }, { "ListOffsets", 2 },
    { "Metadata", 3 }, { "OffsetCommit", 8 }, { "OffsetFetch", 9 },
    { "FindCoordinator", 10 }, { "JoinGroup", 11 }, { "Heartbeat", 12 },
    { "LeaveGroup", 13 }, { "SyncGroup", 14 }, { "ApiVersions", 18 },
    { "InitProducerId", 22 },
};


static int
parse_api_key(const char *s, int16_t *key)
{
    size_t  i;
    long    v;

    for (i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++) {
        if (strcasecmp(s, api_keys[i].name) == 0) {
            *key = api_keys[i].key;
            return 0;
        }
    }

    if (parse_int(s, 0, 100, &v) == 0) {
        *key = (int16_t) v;
        return 0;
    }

    return -1;
}


static int
parse_error(const char *s, rd_kafka_resp_err_t *err)
{
    const struct rd_kafka_err_desc  *descs;
    size_t                           n, i;
    long                             v;

    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0) {
        s += 18;
    }

    rd_kafka_get_err_descs(&descs, &n);

    for (i = 0; i < n; i++) {
        if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
            *err = descs[i].code;
            return 0;
        }
    }

    if (parse_int(s, -200, 200, &v) == 0) {
        *err = (rd_kafka_resp_err_t) v;
        return 0;
    }

    return -1;
}


/* Applies "down", "up" or "rtt" to one broker id or to all of them. */
static int
broker_op(const char *op, const char *id, long rtt, char *reply, size_t size)
{
    long  from, to, b;

    if (strcmp(id, "all") == 0) {
        from = 1;
        to = nbrokers;

    } else if (parse_int(id, 1, nbrokers, &from) == 0) {
        to = from;

    } else {
        snprintf(reply, size, "error no broker %s", id);
        return -1;
    }

    for (b = from; b <= to; b++) {
        rd_kafka_resp_err_t  err;

        if (strcmp(op, "down") == 0) {
            err = rd_kafka_mock_broker_set_down(mcluster, (int32_t) b);

        } else if (strcmp(op, "up") == 0) {
            err = rd_kafka_mock_broker_set_up(mcluster, (int32_t) b);

        } else {
            err = rd_kafka_mock_broker_set_rtt(mcluster, (int32_t) b,
                                               (int) rtt);
        }

        if (err) {
            snprintf(reply, size, "error %s broker %ld: %s", op, b,
                     rd_kafka_err2str(err));
            return -1;
        }
    }

    if (strcmp(op, "rtt") == 0) {
        snprintf(reply, size, "ok rtt %s %ld", id, rtt);

    } else {
        snprintf(reply, size, "ok %s %s", op, id);
    }

    return 0;
}


/* Runs one control command; returns 1 when the broker should exit. */
static int
run_command(char *line, char *reply, size_t size)
{
    char                 *argv[8], *save = NULL, *tok;
    int                   argc = 0;
    long                  n, m;
    int16_t               key;
    rd_kafka_resp_err_t   err, *errs;

    for (tok = strtok_r(line, " \t\r", &save);
         tok != NULL && argc < 8;
         tok = strtok_r(NULL, " \t\r", &save))
    {
        argv[argc++] = tok;
    }

    if (argc == 0) {
        snprintf(reply, size, "error empty command");
        return 0;
    }

    if (strcmp(argv[0], "ping") == 0 && argc == 1) {
        snprintf(reply, size, "ok pong");

    } else if (strcmp(argv[0], "bootstrap") == 0 && argc == 1) {
        snprintf(reply, size, "ok %s",
                 rd_kafka_mock_cluster_bootstraps(mcluster));

    } else if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0)
               && argc == 2)
    {
        broker_op(argv[0], argv[1], 0, reply, size);

    } else if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
        if (parse_int(argv[2], 0, 3600000, &n) != 0) {
            snprintf(reply, size, "error bad rtt %s", argv[2]);
        } else {
            broker_op("rtt", argv[1], n, reply, size);
        }

    } else if (strcmp(argv[0], "errors") == 0 && argc == 4) {
        if (parse_api_key(argv[1], &key) != 0) {
            snprintf(reply, size, "error unknown api key %s", argv[1]);

        } else if (parse_int(argv[2], 1, 100000, &n) != 0) {
            snprintf(reply, size, "error bad count %s", argv[2]);

        } else if (parse_error(argv[3], &err) != 0) {
            snprintf(reply, size, "error unknown error %s", argv[3]);

        } else {
            errs = malloc(sizeof(*errs) * (size_t) n);
            if (errs == NULL) {
                snprintf(reply, size, "error out of memory");
                return 0;
            }

            for (m = 0; m < n; m++) {
                errs[m] = err;
            }

            rd_kafka_mock_push_request_errors_array(mcluster, key,
                                                    (size_t) n, errs);
            free(errs);

            snprintf(reply, size, "ok errors %d %ld %s", key, n,
                     rd_kafka_err2name(err));
        }

    } else if (strcmp(argv[0], "topic") == 0 && (argc == 3 || argc == 4)) {
        m = 0;

        if (parse_int(argv[2], 1, 10000, &n) != 0
            || (argc == 4 && parse_int(argv[3], 1, nbrokers, &m) != 0))
        {
            snprintf(reply, size, "error bad partitions or replication");

        } else if (create_topic(argv[1], n, m) != 0) {
            snprintf(reply, size, "error cannot create topic %s", argv[1]);

        } else {
            snprintf(reply, size, "ok topic %s %ld", argv[1], n);
        }

    } else if (strcmp(argv[0], "leader") == 0 && argc == 4) {
        if (parse_int(argv[2], 0, INT32_MAX, &n) != 0
            || parse_int(argv[3], 1, nbrokers, &m) != 0)
        {
            snprintf(reply, size, "error bad partition or broker");

        } else {
            err = rd_kafka_mock_partition_set_leader(mcluster, argv[1],
                                                     (int32_t) n,
                                                     (int32_t) m);
            if (err) {
                snprintf(reply, size, "error leader %s %ld: %s", argv[1], n,
                         rd_kafka_err2str(err));

            } else {
                snprintf(reply, size, "ok leader %s %ld %ld", argv[1], n, m);
            }
        }

    } else if (strcmp(argv[0], "quit") == 0 && argc == 1) {
        snprintf(reply, size, "ok bye");
        return 1;

    } else {
        snprintf(reply, size, "error unknown command %s", argv[0]);
    }

    return 0;
}


static int
listen_control(long port, int *actual)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 16) != 0
        || getsockname(fd, (struct sockaddr *) &sin, &len) != 0)
    {
        close(fd);
        return -1;
    }

    *actual = ntohs(sin.sin_port);
    return fd;
}


/* Reads what a control client sent and answers its complete lines;
 * returns -1 when the connection is done, 1 on "quit". */
static int
serve_client(client_t *c)
{
    char     reply[LINE_MAX_LEN + 128], *nl;
    ssize_t  n;
    size_t   used;
    int      quit = 0;

    n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    if (n <= 0) {
        return -1;
    }

    c->len += (size_t) n;
    c->buf[c->len] = '\0';

    while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
        *nl = '\0';
        used = (size_t) (nl - c->buf) + 1;

        log_line("> %s", c->buf);
        quit = run_command(c->buf, reply, sizeof(reply) - 1);
        log_line("< %s", reply);

        strcat(reply, "\n");
        if (write(c->fd, reply, strlen(reply)) < 0) {
            return -1;
        }

        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;

        if (quit) {
            return 1;
        }
    }

    if (c->len == sizeof(c->buf) - 1) {
        return -1;      /* a line too long: drop the client */
    }

    return 0;
}


static void
usage(void)
{
    fprintf(stderr,
            "usage: kafka-dev-broker [-n BROKERS] [-p PARTITIONS] "
            "[-f INFO_FILE] [-c CONTROL_PORT] [-q] [TOPIC[:PARTITIONS]...]\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    char              errstr[512], info[4096], *colon;
    const char       *bootstraps;
    long              v, partitions = 4, control_port = 0;
    int               opt, i, lfd, port = 0, rc = 0, done = 0, nfds;
    rd_kafka_conf_t  *conf;
    rd_kafka_t       *rk;
    struct sigaction  sa;
    struct pollfd     pfd[MAX_CLIENTS + 2];
    client_t          clients[MAX_CLIENTS];

    while ((opt = getopt(argc, argv, "n:p:f:c:q")) != -1) {
        switch (opt) {
        case 'n':
            if (parse_int(optarg, 1, 64, &v) != 0) {
                usage();
            }
            nbrokers = (int) v;
            break;
        case 'p':
            if (parse_int(optarg, 1, 10000, &partitions) != 0) {
                usage();
            }
            break;
        case 'f':
            info_file = optarg;
            break;
        case 'c':
            if (parse_int(optarg, 0, 65535, &control_port) != 0) {
                usage();
            }
            break;
        case 'q':
            quiet = 1;
            break;
        default:
            usage();
        }
    }

    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        perror("kafka-dev-broker: pipe");
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    conf = rd_kafka_conf_new();

    if (rd_kafka_conf_set(conf, "log_level", quiet ? "3" : "6", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK)
    {
        fprintf(stderr, "kafka-dev-broker: %s\n", errstr);
        return 1;
    }

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "kafka-dev-broker: %s\n", errstr);
        return 1;
    }

    mcluster = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (mcluster == NULL) {
        fprintf(stderr, "kafka-dev-broker: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    for (i = optind; i < argc; i++) {
        v = partitions;
        colon = strchr(argv[i], ':');

        if (colon) {
            *colon = '\0';
            if (parse_int(colon + 1, 1, 10000, &v) != 0) {
                usage();
            }
        }

        if (create_topic(argv[i], v, 0) != 0) {
            fprintf(stderr, "kafka-dev-broker: cannot create topic %s\n",
                    argv[i]);
            rc = 1;
            goto done;
        }
    }

    lfd = listen_control(control_port, &port);
    if (lfd < 0) {
        fprintf(stderr, "kafka-dev-broker: control port %ld: %s\n",
                control_port, strerror(errno));
        rc = 1;
        goto done;
    }

    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);

    snprintf(info, sizeof(info), "bootstrap=%s\ncontrol=127.0.0.1:%d\nready\n",
             bootstraps, port);

    if (info_file && write_info(info) != 0) {
        rc = 1;
        close(lfd);
        goto done;
    }

    fputs(info, stdout);
    fflush(stdout);

    for (i = 0; i < MAX_CLIENTS; i++) {
        clients[i].fd = -1;
    }

    while (!done) {
        pfd[0].fd = sig_pipe[0];
        pfd[0].events = POLLIN;
        pfd[1].fd = lfd;
        pfd[1].events = POLLIN;
        nfds = 2;

        for (i = 0; i < MAX_CLIENTS; i++) {
            pfd[2 + i].fd = clients[i].fd;     /* -1 is ignored by poll */
            pfd[2 + i].events = POLLIN;
            pfd[2 + i].revents = 0;
        }
        nfds += MAX_CLIENTS;

        if (poll(pfd, (nfds_t) nfds, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("kafka-dev-broker: poll");
            rc = 1;
            break;
        }

        if (pfd[0].revents) {
            log_line("signal: exiting");
            break;
        }

        if (pfd[1].revents & POLLIN) {
            int  cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

            if (cfd >= 0) {
                for (i = 0; i < MAX_CLIENTS; i++) {
                    if (clients[i].fd == -1) {
                        clients[i].fd = cfd;
                        clients[i].len = 0;
                        break;
                    }
                }

                if (i == MAX_CLIENTS) {
                    static const char  busy[] = "error too many clients\n";

                    if (write(cfd, busy, sizeof(busy) - 1) < 0) {
                        /* nothing to do: it is closed next */
                    }
                    close(cfd);
                }
            }
        }

        for (i = 0; i < MAX_CLIENTS; i++) {
            int  r;

            if (clients[i].fd == -1 || pfd[2 + i].revents == 0) {
                continue;
            }

            r = serve_client(&clients[i]);

            if (r != 0) {
                close(clients[i].fd);
                clients[i].fd = -1;
            }

            if (r == 1) {
                done = 1;
            }
        }
    }

    for (i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].fd != -1) {
            close(clients[i].fd);
        }
    }

    close(lfd);

done:

    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);

    if (info_file) {
        unlink(info_file);
    }

    return rc;
}

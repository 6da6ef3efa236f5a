
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


/*
 * Runs the official JSON-Schema-Test-Suite through the gateway's validator
 * (src/ngx_http_kafka_schema.c):
 *
 *   schema-suite [-v] SUITE_DIR SKIP_FILE
 *
 * Every test of tests/draft2020-12/ and tests/draft7/ (not optional/) is
 * run; http://localhost:1234/ is mapped to SUITE_DIR/remotes/.  Each test
 * is validated twice, without and with error collection, and both answers
 * must agree with the suite.  The optional tests of the formats that
 * assert (date-time, date, email, uuid, ipv4, ipv6, uri) are run with
 * assertion on and counted, for information.  A group listed in SKIP_FILE (tab-separated:
 * draft/file, group description, reason) counts as not passed.  Exits 1
 * when a draft passes less than 98% of its tests.
 */


#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_kafka_schema.h"


#define SUITE_REMOTE  "http://localhost:1234/"
#define SUITE_BAR     98.0


typedef struct {
    char   *file;
    char   *group;
    int     used;
} skip_t;


static const char  *suite;
static skip_t       skips[256];
static int          nskips;
static int          verbose;

static const char  *formats_list = " date-time.json date.json email.json "
                                   "uuid.json ipv4.json ipv6.json uri.json ";


static json_t *
load_remote(const char *uri, void *data, char *err, size_t len)
{
    char          path[4096];
    json_t       *doc;
    json_error_t  jerr;

    (void) data;

    if (strncmp(uri, SUITE_REMOTE, sizeof(SUITE_REMOTE) - 1) != 0) {
        snprintf(err, len, "not a suite remote");
        return NULL;
    }

    snprintf(path, sizeof(path), "%s/remotes/%s", suite,
             uri + sizeof(SUITE_REMOTE) - 1);

    doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
        snprintf(err, len, "%s", jerr.text);
    }

    return doc;
}


static int
count_error(void *data, const char *pointer, const char *keyword,
    const char *message)
{
    (void) pointer;
    (void) keyword;
    (void) message;

    (*(int *) data)++;

    return 0;
}


static void
read_skips(const char *file)
{
    FILE  *f;
    char   line[2048], *tab, *tab2;

    f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        exit(2);
    }

    while (fgets(line, sizeof(line), f) && nskips < 256) {
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }

        tab = strchr(line, '\t');
        tab2 = tab ? strchr(tab + 1, '\t') : NULL;

        if (tab2 == NULL) {
            fprintf(stderr, "%s: a line needs file, group, reason: %s", file,
                    line);
            exit(2);
        }

        *tab = '\0';
        *tab2 = '\0';
        skips[nskips].file = strdup(line);
        skips[nskips].group = strdup(tab + 1);
        nskips++;
    }

    fclose(f);
}


static int
skipped(const char *file, const char *group)
{
    int  i;

    for (i = 0; i < nskips; i++) {
        if (strcmp(skips[i].file, file) == 0
            && strcmp(skips[i].group, group) == 0)
        {
            skips[i].used = 1;
            return 1;
        }
    }

    return 0;
}


static int
format_listed(const char *file)
{
    char  word[300];

    snprintf(word, sizeof(word), " %s ", file);

    return strstr(formats_list, word) != NULL;
}


static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


static int
run_draft(const char *draft, const char *sub, int version, int formats)
{
    int                              total, passed, skip, failed, rc, rc2;
    int                              nerr, nfiles, i;
    char                             path[4096], name[512], err[1024];
    char                            *files[256];
    DIR                             *dir;
    size_t                           g, t;
    json_t                          *doc, *group, *test, *tests;
    const char                      *gdesc;
    json_error_t                     jerr;
    struct dirent                   *de;
    ngx_http_kafka_schema_t         *schema;
    ngx_http_kafka_schema_options_t  opts;

    total = passed = skip = failed = 0;

    snprintf(path, sizeof(path), "%s/tests/%s%s", suite, draft, sub);

    dir = opendir(path);
    if (dir == NULL) {
        perror(path);
        return -1;
    }

    nfiles = 0;

    while ((de = readdir(dir)) != NULL && nfiles < 256) {
        size_t  n = strlen(de->d_name);

        if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0
            && (!formats || format_listed(de->d_name)))
        {
            files[nfiles++] = strdup(de->d_name);
        }
    }

    closedir(dir);
    qsort(files, nfiles, sizeof(char *), name_cmp);

    memset(&opts, 0, sizeof(opts));
    opts.draft = version;
    opts.load = load_remote;

    for (i = 0; i < nfiles; i++) {
        snprintf(path, sizeof(path), "%s/tests/%s%s/%s", suite, draft, sub,
                 files[i]);
        snprintf(name, sizeof(name), "%s%s/%s", draft, sub, files[i]);

        doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
        if (doc == NULL) {
            fprintf(stderr, "%s: %s\n", path, jerr.text);
            return -1;
        }

        json_array_foreach(doc, g, group) {
            gdesc = json_string_value(json_object_get(group, "description"));
            tests = json_object_get(group, "tests");

            if (skipped(name, gdesc)) {
                skip += json_array_size(tests);
                total += json_array_size(tests);
                continue;
            }

            err[0] = '\0';
            schema = ngx_http_kafka_schema_compile(
                         json_object_get(group, "schema"), &opts, err,
                         sizeof(err));

            json_array_foreach(tests, t, test) {
                int  valid = json_is_true(json_object_get(test, "valid"));

                total++;

                if (schema == NULL) {
                    failed++;
                    if (verbose) {
                        printf("FAIL %s: %s: %s: does not compile: %s\n",
                               name, gdesc,
                               json_string_value(json_object_get(test,
                                                        "description")),
                               err);
                    }

                    continue;
                }

                json_t  *data = json_object_get(test, "data");

                rc = ngx_http_kafka_schema_validate(schema, data, formats,
                                                    0, NULL, NULL);
                nerr = 0;
                rc2 = ngx_http_kafka_schema_validate(schema, data, formats,
                                                     100, count_error, &nerr);

                if (rc == valid && rc2 == valid && (nerr == 0) == valid) {
                    passed++;
                    continue;
                }

                failed++;

                if (verbose) {
                    printf("FAIL %s: %s: %s: expected %s, got %s/%s "
                           "(%d errors)\n", name, gdesc,
                           json_string_value(json_object_get(test,
                                                             "description")),
                           valid ? "valid" : "invalid",
                           rc ? "valid" : "invalid",
                           rc2 ? "valid" : "invalid", nerr);
                }
            }

            ngx_http_kafka_schema_free(schema);
        }

        json_decref(doc);
        free(files[i]);
    }

    printf("%s%s: %d of %d tests passed (%.1f%%), %d skipped, %d failed\n",
           draft, sub, passed, total, total ? 100.0 * passed / total : 0.0,
           skip, failed);

    return total && 100.0 * passed / total >= SUITE_BAR ? 0 : 1;
}


int
main(int argc, char **argv)
{
    int  i, rc;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = 1;
        argc--;
        argv++;
    }

    if (argc != 3) {
        fprintf(stderr, "usage: schema-suite [-v] SUITE_DIR SKIP_FILE\n");
        return 2;
    }

    suite = argv[1];
    read_skips(argv[2]);

    rc = 0;
    rc |= run_draft("draft2020-12", "", NGX_HTTP_KAFKA_SCHEMA_DRAFT2020, 0);
    rc |= run_draft("draft7", "", NGX_HTTP_KAFKA_SCHEMA_DRAFT7, 0);

    /* the asserted formats, for information: optional/ is not judged */
    (void) run_draft("draft2020-12", "/optional/format",
                     NGX_HTTP_KAFKA_SCHEMA_DRAFT2020, 1);

    for (i = 0; i < nskips; i++) {
        if (!skips[i].used) {
            printf("skip list: no group \"%s\" in %s\n", skips[i].group,
                   skips[i].file);
            rc |= 1;
        }

        free(skips[i].file);
        free(skips[i].group);
    }

    if (rc < 0) {
        return 2;
    }

    return rc ? 1 : 0;
}

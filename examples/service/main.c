/*
 * main.c - notes-service: a small HTTP service that migrates its own
 * database at startup without blocking, then serves notes.
 *
 *   notes-service --database URL --migrations DIR --port N
 *
 * It listens at once, so an orchestrator sees it alive while the schema is
 * brought up to date on strata's worker thread (strata_run_start). Until
 * the run ends, /healthz/ready answers 503 with the run's progress and every
 * other route but /healthz/live answers 503; after a successful run it
 * connects with the database's own client (db.h) and serves /notes. A run
 * that fails or is refused is logged (file:line, message, hint) and the
 * process exits 1; SIGTERM or SIGINT cancels a run between two migrations
 * and exits 0.
 *
 * Threads: libmicrohttpd's one internal polling thread answers requests;
 * strata's worker runs the migrations and reports events; the main thread
 * only polls the run's descriptor and a self-pipe written by the signal
 * handler (the signals are blocked in the other two threads). The state the
 * HTTP thread reads (phase, run, version, db) changes under one mutex; the
 * notes database is only used by the HTTP thread, and closed after the
 * daemon has stopped. With one polling thread a slow query delays every
 * request, which is fine for an example of this size.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strata.h>
#include <string.h>
#include <unistd.h>

#define PROG "notes-service"
#define MAX_BODY (64 * 1024)

enum phase { PHASE_MIGRATING, PHASE_READY, PHASE_STOPPING };

typedef struct app {
    pthread_mutex_t mu; /* guards everything below */
    enum phase phase;
    strata_run *run; /* while migrating; freed by the main thread */
    char *version;   /* schema version, once ready */
    const db_backend *backend;
    notes_db *db; /* once ready; only the HTTP thread uses it */
} app;

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    /* A full pipe already holds a wake-up; nothing is lost. */
    ssize_t n = write(signal_pipe[1], &c, 1);
    (void)n;
    errno = saved;
}

static void logf_(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One write per line, so lines of different threads do not mix. */
    fprintf(stderr, PROG ": %s\n", line);
}

/* ------------------------------------------------------------------------ */
/* A growing text buffer for JSON bodies. `failed` is set on out of memory;
 * later appends do nothing. */

typedef struct buf {
    char *data;
    size_t len, cap;
    int failed;
} buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_printf(buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        b->failed = 1; /* only short, fixed texts go through here */
    else
        buf_add(b, tmp, (size_t)n);
}

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0
 * when it is not one. NUL counts as not well-formed: a note is text. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, surrogate, or beyond U+10FFFF */
    return len;
}

static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* Appends s as a JSON string; a byte that is not UTF-8 (the table may hold
 * rows written by others) becomes U+FFFD. */
static void buf_json_str(buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    buf_add(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (p[i] == '"' || p[i] == '\\') {
            buf_add(b, "\\", 1);
            buf_add(b, s + i, 1);
        } else if (p[i] == '\n') {
            buf_add(b, "\\n", 2);
        } else if (p[i] < 0x20 && p[i] != 0) {
            buf_printf(b, "\\u%04x", p[i]);
        } else if (k == 0) {
            buf_add(b, "\\ufffd", 6);
            k = 1;
        } else {
            buf_add(b, s + i, k);
        }
        i += k ? k : 1;
    }
    buf_add(b, "\"", 1);
}

/* ------------------------------------------------------------------------ */
/* HTTP */

/* What one request has sent so far; freed when MHD completes it. */
typedef struct request {
    buf body;
    int too_large;
} request;

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
                               const char *json, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_buf(struct MHD_Connection *conn,
                                   unsigned int status, buf *b)
{
    buf_add(b, "\n", 1);
    if (b->failed)
        return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       "{\"error\":\"out of memory\"}\n", NULL);
    return respond(conn, status, b->data, NULL);
}

static enum MHD_Result serve_ready(struct MHD_Connection *conn, app *a)
{
    enum phase phase;
    size_t done = 0, total = 0;
    buf b = {0};
    pthread_mutex_lock(&a->mu);
    phase = a->phase;
    if (phase == PHASE_MIGRATING && a->run != NULL)
        strata_run_progress(a->run, &done, &total);
    if (phase == PHASE_READY) {
        buf_puts(&b, "{\"status\":\"ready\",\"version\":");
        buf_json_str(&b, a->version, strlen(a->version));
        buf_puts(&b, "}");
    }
    pthread_mutex_unlock(&a->mu);

    enum MHD_Result ret;
    if (phase == PHASE_READY) {
        ret = respond_buf(conn, MHD_HTTP_OK, &b);
    } else if (phase == PHASE_MIGRATING) {
        buf_printf(&b, "{\"status\":\"migrating\",\"done\":%zu,\"total\":%zu}",
                   done, total);
        ret = respond_buf(conn, MHD_HTTP_SERVICE_UNAVAILABLE, &b);
    } else {
        ret = respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                      "{\"status\":\"stopping\"}\n", NULL);
    }
    free(b.data);
    return ret;
}

static int list_one(int64_t id, const char *body, size_t len,
                    const char *created_at, void *payload)
{
    buf *b = payload;
    buf_printf(b, "%s{\"id\":%" PRId64 ",\"body\":", b->len > 1 ? "," : "", id);
    buf_json_str(b, body, len);
    buf_puts(b, ",\"created_at\":");
    buf_json_str(b, created_at, strlen(created_at));
    buf_add(b, "}", 1);
    return b->failed ? -1 : 0;
}

static enum MHD_Result serve_notes(struct MHD_Connection *conn, app *a,
                                   notes_db *db, const char *method,
                                   request *req)
{
    char err[512];
    buf b = {0};
    enum MHD_Result ret;
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
        buf_add(&b, "[", 1);
        if (a->backend->list_notes(db, list_one, &b, err, sizeof err) != 0) {
            logf_("GET /notes: %s", err);
            free(b.data);
            return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "{\"error\":\"database error\"}\n", NULL);
        }
        buf_add(&b, "]", 1);
        ret = respond_buf(conn, MHD_HTTP_OK, &b);
    } else if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        const char *text = req->body.data ? req->body.data : "";
        if (req->too_large)
            return respond(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                           "{\"error\":\"a note is at most 64 KiB\"}\n", NULL);
        if (req->body.failed)
            return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "{\"error\":\"out of memory\"}\n", NULL);
        if (req->body.len == 0 || !utf8_valid(text, req->body.len))
            return respond(conn, MHD_HTTP_BAD_REQUEST,
                           "{\"error\":\"the body must be the note's text: "
                           "UTF-8, not empty, no NUL\"}\n",
                           NULL);
        int64_t id = 0;
        if (a->backend->add_note(db, text, req->body.len, &id, err,
                                 sizeof err) != 0) {
            logf_("POST /notes: %s", err);
            return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "{\"error\":\"database error\"}\n", NULL);
        }
        buf_printf(&b, "{\"id\":%" PRId64 "}", id);
        ret = respond_buf(conn, MHD_HTTP_CREATED, &b);
    } else {
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "{\"error\":\"method not allowed\"}\n", "GET, POST");
    }
    free(b.data);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    app *a = cls;
    request *req = *con_cls;
    (void)version;
    if (req == NULL) { /* headers only so far */
        req = calloc(1, sizeof *req);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (req->body.len + *upload_size > MAX_BODY)
            req->too_large = 1; /* keep reading, but keep nothing */
        else
            buf_add(&req->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }

    if (strcmp(url, "/healthz/live") == 0)
        return respond(conn, MHD_HTTP_OK, "{\"status\":\"alive\"}\n", NULL);
    if (strcmp(url, "/healthz/ready") == 0)
        return serve_ready(conn, a);

    pthread_mutex_lock(&a->mu);
    enum phase phase = a->phase;
    notes_db *db = a->db;
    pthread_mutex_unlock(&a->mu);
    if (phase == PHASE_MIGRATING)
        return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                       "{\"status\":\"migrating\"}\n", NULL);
    if (phase != PHASE_READY)
        return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                       "{\"status\":\"stopping\"}\n", NULL);
    if (strcmp(url, "/notes") == 0)
        return serve_notes(conn, a, db, method, req);
    return respond(conn, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}\n",
                   NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    request *req = *con_cls;
    (void)cls;
    (void)conn;
    (void)why;
    if (req != NULL) {
        free(req->body.data);
        free(req);
        *con_cls = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* The migration run */

/* Called on strata's worker thread. */
static void on_event(const strata_event *ev, void *payload)
{
    (void)payload;
    switch (ev->type) {
    case STRATA_EVENT_RUN_START:
        if (ev->total > 0)
            logf_("migrating: %zu pending", ev->total);
        break;
    case STRATA_EVENT_LOCK_WAIT:
        logf_("migrating: waiting for the migration lock: %s",
              ev->message ? ev->message : "");
        break;
    case STRATA_EVENT_MIGRATION_START:
        logf_("migrating: %zu/%zu %s %s", ev->index, ev->total, ev->version,
              ev->name);
        break;
    case STRATA_EVENT_MIGRATION_DONE:
        logf_("migrating: %zu/%zu %s done in %" PRId64 " ms", ev->index,
              ev->total, ev->version, ev->duration_ms);
        break;
    case STRATA_EVENT_LOG:
        if (ev->level >= STRATA_LOG_INFO)
            logf_("migrating: %s", ev->message ? ev->message : "");
        break;
    default: break;
    }
}

/* Logs why a run did not bring the schema up to date. */
static void log_run_error(const strata_result *res)
{
    const strata_error *e = res->error;
    char where[600] = "";
    if (e->file[0] != '\0' && e->line > 0)
        snprintf(where, sizeof where, "%s:%d: ", e->file, e->line);
    else if (e->file[0] != '\0')
        snprintf(where, sizeof where, "%s: ", e->file);
    logf_("error: migration run %s: %s%s", strata_outcome_name(res->outcome),
          where, e->message);
    if (e->db_message[0] != '\0' && strstr(e->message, e->db_message) == NULL)
        fprintf(stderr, "  database: %s\n", e->db_message);
    if (e->db_detail[0] != '\0')
        fprintf(stderr, "  detail: %s\n", e->db_detail);
    if (e->hint[0] != '\0')
        fprintf(stderr, "  hint: %s\n", e->hint);
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *to)
{
    fprintf(to, "usage: " PROG " --database URL --migrations DIR --port N\n"
                "  --database URL    sqlite:path.db or postgres://...; "
                "default $DATABASE_URL\n"
                "  --migrations DIR  the migrations to apply at startup\n"
                "  --port N          TCP port to listen on (0: any free one, "
                "logged)\n");
}

/* Blocks or unblocks SIGTERM and SIGINT in the calling thread. */
static void mask_signals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(how, &set, NULL);
}

static int setup_signals(void)
{
    if (pipe(signal_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(signal_pipe[i], F_SETFL, O_NONBLOCK);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"database", required_argument, NULL, 'd'},
        {"migrations", required_argument, NULL, 'm'},
        {"port", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = getenv("DATABASE_URL");
    const char *dir = NULL;
    long port = -1;
    int c;
    while ((c = getopt_long(argc, argv, "d:m:p:h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd': url = optarg; break;
        case 'm': dir = optarg; break;
        case 'p':
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || port < 0 ||
                port > 65535) {
                fprintf(stderr, PROG ": --port wants 0 to 65535, not %s\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (url == NULL || url[0] == '\0' || dir == NULL || port < 0 ||
        optind != argc) {
        usage(stderr);
        return 2;
    }

    app a = {.mu = PTHREAD_MUTEX_INITIALIZER, .phase = PHASE_MIGRATING};
    a.backend = db_backend_for(url);
    if (a.backend == NULL) {
        fprintf(stderr, PROG ": the database URL must start with sqlite: or "
                             "postgres://\n");
        return 2;
    }

    int status = 1, stopping = 0;
    struct MHD_Daemon *daemon = NULL;
    strata_source *src = NULL;
    strata_run *run = NULL;

    if (setup_signals() != 0) {
        logf_("error: cannot set up signal handling: %s", strerror(errno));
        goto out;
    }
    /* The HTTP and migration threads inherit this mask; only the main
     * thread takes the signals. */
    mask_signals(SIG_BLOCK);

    daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO,
        (uint16_t)port, NULL, NULL, on_request, &a, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_END);
    if (daemon == NULL) {
        logf_("error: cannot listen on port %ld", port);
        goto out;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    logf_("listening on port %u", info ? (unsigned)info->port : 0u);

    strata_options opts = STRATA_OPTIONS_INIT;
    opts.on_event = on_event;
    int rc = strata_source_from_dir(&src, dir);
    if (rc == STRATA_OK)
        rc = strata_run_start(&run, url, src, &opts, NULL, NULL);
    strata_source_free(src); /* the run has its own copy */
    src = NULL;
    if (rc != STRATA_OK) {
        logf_("error: cannot start migrating: %s", strata_code_name(rc));
        goto out;
    }
    pthread_mutex_lock(&a.mu);
    a.run = run;
    pthread_mutex_unlock(&a.mu);
    mask_signals(SIG_UNBLOCK);

    struct pollfd fds[2] = {
        {.fd = signal_pipe[0], .events = POLLIN},
        {.fd = strata_run_fd(run), .events = POLLIN},
    };
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            logf_("error: poll: %s", strerror(errno));
            goto out;
        }
        if (fds[0].revents & POLLIN) {
            unsigned char sig[16];
            while (read(signal_pipe[0], sig, sizeof sig) > 0)
                ;
            if (run == NULL)
                break;
            if (!stopping)
                logf_("stopping: cancelling the migration run after the "
                      "current migration");
            stopping = 1;
            strata_run_cancel(run);
            pthread_mutex_lock(&a.mu);
            a.phase = PHASE_STOPPING;
            pthread_mutex_unlock(&a.mu);
        }
        if (run == NULL || !(fds[1].revents & (POLLIN | POLLERR | POLLHUP)))
            continue;

        /* The run has ended. Unless the service is about to serve, the
         * HTTP thread stops looking at it now; otherwise it goes on
         * reporting the final progress until the database is connected. */
        const strata_result *res = strata_run_result(run);
        int ok = res != NULL && (res->outcome == STRATA_OUTCOME_UP_TO_DATE ||
                                 res->outcome == STRATA_OUTCOME_APPLIED);
        fds[1].fd = -1;
        if (!ok || stopping) {
            pthread_mutex_lock(&a.mu);
            a.run = NULL;
            a.phase = PHASE_STOPPING;
            pthread_mutex_unlock(&a.mu);
        }

        if (res == NULL) {
            logf_("error: the migration run ended without a result");
            goto out;
        }
        if (stopping && (ok || res->outcome == STRATA_OUTCOME_CANCELLED)) {
            logf_("stopped at version %s (%zu applied by this run)",
                  res->to_version, res->applied);
            status = 0;
            goto out;
        }
        if (!ok) {
            log_run_error(res);
            goto out;
        }

        char err[512];
        notes_db *db = NULL;
        char *version = strdup(res->to_version);
        if (version == NULL ||
            a.backend->open(&db, url, err, sizeof err) != 0) {
            logf_("error: %s", version ? err : "out of memory");
            free(version);
            pthread_mutex_lock(&a.mu);
            a.run = NULL;
            a.phase = PHASE_STOPPING;
            pthread_mutex_unlock(&a.mu);
            goto out;
        }
        logf_("ready at version %s (%zu applied, %s)", version, res->applied,
              strata_outcome_name(res->outcome));
        pthread_mutex_lock(&a.mu);
        a.run = NULL;
        a.db = db;
        a.version = version;
        a.phase = PHASE_READY;
        pthread_mutex_unlock(&a.mu);
        strata_run_free(run);
        run = NULL;
    }
    logf_("stopping");
    status = 0;

out:
    /* The daemon goes first: after it stops no thread reads `a`. */
    if (daemon != NULL)
        MHD_stop_daemon(daemon);
    strata_run_free(run);
    a.backend->close(a.db);
    free(a.version);
    pthread_mutex_destroy(&a.mu);
    for (int i = 0; i < 2; i++)
        if (signal_pipe[i] >= 0)
            close(signal_pipe[i]);
    return status;
}

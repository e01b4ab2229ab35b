/*
 * cli_io.c: "-" paths and progress (see cli_io.h).
 */
#include "cli_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"

bool cli_is_stdio(const char *arg)
{
    return arg != NULL && strcmp(arg, "-") == 0;
}

static const char *tmp_root(void)
{
    const char *t = getenv("TMPDIR");
    return t != NULL && t[0] != '\0' ? t : "/tmp";
}

/* Copy everything from fd `from` to fd `to`: 0 or -errno. */
static int copy_fd(int from, int to)
{
    static char buf[1 << 16];
    for (;;) {
        ssize_t n = read(from, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(to, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            off += w;
        }
    }
}

int cli_input_begin(const char *cmd, const char *arg, cli_input *in)
{
    in->path = arg;
    in->tmp = NULL;
    if (!cli_is_stdio(arg))
        return CLI_OK;
    if (isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "strata %s: '-' reads standard input, which is a terminal; "
                "pipe a db file into it\n",
                cmd);
        return CLI_USAGE;
    }
    size_t n = strlen(tmp_root()) + sizeof "/strata-stdin-XXXXXX";
    in->tmp = malloc(n);
    if (in->tmp == NULL)
        return cli_report(cmd, "-", -ENOMEM);
    snprintf(in->tmp, n, "%s/strata-stdin-XXXXXX", tmp_root());
    int fd = mkstemp(in->tmp);
    if (fd < 0) {
        int code = cli_report(cmd, in->tmp, -errno);
        free(in->tmp);
        in->tmp = NULL;
        return code;
    }
    int rc = copy_fd(STDIN_FILENO, fd);
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0) {
        fprintf(stderr, "strata %s: reading standard input into %s: %s\n", cmd, in->tmp,
                strerror(-rc));
        unlink(in->tmp);
        free(in->tmp);
        in->tmp = NULL;
        return CLI_NOOPEN;
    }
    in->path = in->tmp;
    cli_path_alias(in->tmp, "-");
    return CLI_OK;
}

void cli_input_end(cli_input *in)
{
    if (in->tmp != NULL) {
        unlink(in->tmp);
        cli_path_alias(NULL, NULL);
        free(in->tmp);
    }
    in->tmp = NULL;
}

int cli_output_begin(const char *cmd, const cli_opts *o, const char *arg, cli_output *out)
{
    memset(out, 0, sizeof *out);
    out->path = arg;
    if (!cli_is_stdio(arg))
        return CLI_OK;
    if (o != NULL && o->json) {
        fprintf(stderr, "strata %s: --json and an output of '-' both want standard output\n", cmd);
        return CLI_USAGE;
    }
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr,
                "strata %s: '-' writes a db file to standard output, which is a terminal; "
                "redirect it\n",
                cmd);
        return CLI_USAGE;
    }
    size_t n = strlen(tmp_root()) + sizeof "/strata-out-XXXXXX";
    out->tmpdir = malloc(n);
    if (out->tmpdir == NULL)
        return cli_report(cmd, "-", -ENOMEM);
    snprintf(out->tmpdir, n, "%s/strata-out-XXXXXX", tmp_root());
    if (mkdtemp(out->tmpdir) == NULL) {
        int code = cli_report(cmd, out->tmpdir, -errno);
        free(out->tmpdir);
        out->tmpdir = NULL;
        return code;
    }
    n = strlen(out->tmpdir) + sizeof "/out.db";
    out->tmppath = malloc(n);
    if (out->tmppath == NULL) {
        rmdir(out->tmpdir);
        free(out->tmpdir);
        out->tmpdir = NULL;
        return cli_report(cmd, "-", -ENOMEM);
    }
    snprintf(out->tmppath, n, "%s/out.db", out->tmpdir);
    out->path = out->tmppath;
    out->to_stdout = true;
    cli_path_alias(out->tmppath, "-");
    return CLI_OK;
}

/* Remove everything the command may have left in the private directory. */
static void remove_tmpdir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        /* Only plain files are made here (the output and its own temporaries). */
        DIR *d = fdopendir(dfd);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
                    unlinkat(dirfd(d), e->d_name, 0);
            closedir(d);
        } else {
            close(dfd);
        }
    }
    rmdir(dir);
}

int cli_output_end(const char *cmd, cli_output *out, bool ok)
{
    int code = CLI_OK;
    if (out->to_stdout && ok) {
        int fd = open(out->tmppath, O_RDONLY | O_CLOEXEC);
        int rc = fd < 0 ? -errno : copy_fd(fd, STDOUT_FILENO);
        if (fd >= 0)
            close(fd);
        if (rc != 0) {
            fprintf(stderr, "strata %s: writing standard output: %s\n", cmd, strerror(-rc));
            code = CLI_NOOPEN;
        }
    }
    if (out->tmpdir != NULL) {
        remove_tmpdir(out->tmpdir);
        cli_path_alias(NULL, NULL);
    }
    free(out->tmppath);
    free(out->tmpdir);
    out->tmppath = out->tmpdir = NULL;
    return code;
}

FILE *cli_output_summary(const cli_output *out)
{
    return out->to_stdout ? stderr : stdout;
}

const char *cli_output_shown(const cli_output *out)
{
    return out->to_stdout ? "-" : out->path;
}

bool cli_progress_wanted(const cli_opts *o)
{
    return isatty(STDERR_FILENO) && !(o != NULL && o->json);
}

struct cli_ticker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    const char *cmd, *unit;
    _Atomic uint64_t *counter;
    struct timespec start;
    /* cli_ticker_set: what is counted, done of total (total 0: unknown). */
    _Atomic(const char *) what;
    _Atomic uint64_t done, total;
};

static double since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One progress line, over the last one. */
static void draw(cli_ticker *t)
{
    const char *what = atomic_load(&t->what);
    uint64_t done = atomic_load(&t->done), total = atomic_load(&t->total);
    if (what != NULL && total > 0)
        fprintf(stderr, "\r%s: %s %llu of %llu (%.0f%%), %.1f s\033[K", t->cmd, what,
                (unsigned long long)done, (unsigned long long)total,
                100.0 * (double)(done < total ? done : total) / (double)total, since(&t->start));
    else if (what != NULL)
        fprintf(stderr, "\r%s: %s %llu, %.1f s\033[K", t->cmd, what, (unsigned long long)done,
                since(&t->start));
    else if (t->counter != NULL)
        fprintf(stderr, "\r%s: %llu %s, %.1f s\033[K", t->cmd,
                (unsigned long long)atomic_load(t->counter), t->unit, since(&t->start));
    else
        fprintf(stderr, "\r%s: %.1f s\033[K", t->cmd, since(&t->start));
}

static void *ticker_main(void *arg)
{
    cli_ticker *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 250 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!t->stop && pthread_cond_timedwait(&t->cond, &t->mu, &until) != ETIMEDOUT) {
        }
        if (t->stop)
            break;
        draw(t);
        fflush(stderr);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

cli_ticker *cli_ticker_start(const cli_opts *o, const char *unit, _Atomic uint64_t *counter)
{
    if (!cli_progress_wanted(o))
        return NULL;
    cli_ticker *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cmd = o->cmd;
    t->unit = unit != NULL ? unit : "";
    t->counter = counter;
    clock_gettime(CLOCK_MONOTONIC, &t->start);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void cli_ticker_stop(cli_ticker *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    /* The last figures once more (a short run may end before the first tick), then clear. */
    if (atomic_load(&t->what) != NULL || t->counter != NULL)
        draw(t);
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void cli_ticker_set(cli_ticker *t, const char *what, uint64_t done, uint64_t total)
{
    if (t == NULL)
        return;
    const char *was = atomic_load(&t->what);
    if (was == what || (was != NULL && what != NULL && strcmp(was, what) == 0)) {
        atomic_store(&t->done, done);
        atomic_store(&t->total, total);
        return;
    }
    /* A new phase: the last figures of the one that ends, then the new one's
     * first, drawn at once (under the ticker's lock, as the ticker draws). */
    pthread_mutex_lock(&t->mu);
    if (was != NULL)
        draw(t);
    atomic_store(&t->done, done);
    atomic_store(&t->total, total);
    atomic_store(&t->what, what);
    draw(t);
    fflush(stderr);
    pthread_mutex_unlock(&t->mu);
}

void cli_ticker_pages(void *t, uint64_t done, uint64_t total)
{
    cli_ticker_set(t, "pages checked", done, total);
}

void cli_ticker_bytes(void *t, uint64_t done, uint64_t total)
{
    cli_ticker_set(t, "bytes read", done, total);
}

void cli_ticker_backend(void *t, const char *what, uint64_t done, uint64_t total)
{
    cli_ticker_set(t, what, done, total);
}

/* ---- a writer's report lines set aside ---------------------------------------- */

int cli_aside_begin(const char *cmd, bool to_stderr, bool gather, cli_aside *a)
{
    a->saved = -1;
    a->cap = NULL;
    if (!to_stderr && !gather)
        return CLI_OK;
    fflush(stdout);
    a->saved = dup(STDOUT_FILENO);
    a->cap = gather ? tmpfile() : NULL;
    if (a->saved < 0 || (gather && a->cap == NULL) ||
        dup2(gather ? fileno(a->cap) : STDERR_FILENO, STDOUT_FILENO) < 0) {
        fprintf(stderr, "strata %s: cannot set the report aside: %s\n", cmd, strerror(errno));
        if (a->saved >= 0)
            close(a->saved);
        if (a->cap != NULL)
            fclose(a->cap);
        a->saved = -1;
        a->cap = NULL;
        return CLI_INTERNAL;
    }
    return CLI_OK;
}

void cli_aside_restore(cli_aside *a)
{
    fflush(stdout);
    if (a->saved >= 0) {
        dup2(a->saved, STDOUT_FILENO);
        close(a->saved);
        a->saved = -1;
    }
}

json_t *cli_aside_lines(cli_aside *a)
{
    if (a->cap == NULL)
        return NULL;
    json_t *report = json_array();
    char line[4096];
    rewind(a->cap);
    while (fgets(line, sizeof line, a->cap) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        cli_json_append(report, json_string(line));
    }
    fclose(a->cap);
    a->cap = NULL;
    return report;
}

void cli_aside_discard(cli_aside *a)
{
    if (a->cap != NULL)
        fclose(a->cap);
    a->cap = NULL;
}

int cli_held_begin(cli_held *h)
{
    memset(h, 0, sizeof *h);
    h->out = open_memstream(&h->obuf, &h->olen);
    h->err = open_memstream(&h->ebuf, &h->elen);
    if (h->out != NULL && h->err != NULL)
        return 0;
    if (h->out != NULL)
        fclose(h->out);
    if (h->err != NULL)
        fclose(h->err);
    free(h->obuf);
    free(h->ebuf);
    memset(h, 0, sizeof *h);
    return -ENOMEM;
}

void cli_held_end(cli_held *h, bool emit)
{
    fclose(h->out);
    fclose(h->err);
    if (emit) {
        fwrite(h->obuf, 1, h->olen, stdout);
        fwrite(h->ebuf, 1, h->elen, stderr);
    }
    free(h->obuf);
    free(h->ebuf);
    memset(h, 0, sizeof *h);
}

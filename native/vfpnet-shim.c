/*
 * The `vfpnet` executable: a small native front for the Python package.
 *
 * Why native: a CNI runtime execs the plugin for every pod, and the Python interpreter's
 * own start-up (about 8 ms here) is as long as the reference `bridge` plugin's whole ADD.
 * As a CNI plugin (CNI_COMMAND set) this program hands the call to a running
 * `vfpnet cni serve` (a warm Python process that forks one worker per call) over a Unix
 * socket: it passes its stdin, stdout, stderr and network namespace descriptors, its
 * umask, working directory and environment, and exits with the worker's status. The
 * worker reads the netconf from our stdin and writes the result to our stdout itself, so
 * the runtime sees exactly what an in-process plugin writes.
 *
 * When no server answers (no socket, connection refused, a server of another protocol
 * version), or for anything that is not a CNI call, it execs the Python launcher
 * (`python -IS launcher.py ARGS...`): the same code, only slower to start. A call that the
 * server has accepted is never run a second time here.
 *
 * Build (scripts/install-launcher.py does it):
 *   cc -O2 -DVFPNET_PYTHON='"/venv/bin/python"' -DVFPNET_LAUNCHER='"/venv/.../launcher.py"' \
 *      -o vfpnet vfpnet-shim.c
 * VFPNET_CNI_SOCKET overrides the socket path; "off" disables the server.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef VFPNET_PYTHON
#error "VFPNET_PYTHON (the interpreter's absolute path) must be defined"
#endif
#ifndef VFPNET_LAUNCHER
#error "VFPNET_LAUNCHER (the Python launcher's absolute path) must be defined"
#endif
#ifndef VFPNET_SOCKET
#define VFPNET_SOCKET "/run/vfpnet/cni.sock"
#endif

/* Wire format (see vfpnet/cni/server.py): MAGIC, a 4-byte big-endian length N, then N bytes:
 * the umask in octal, the working directory and each KEY=VALUE of the environment, each
 * ended by a NUL byte (the worker takes on all three, as an exec'd plugin inherits them).
 * The first sendmsg carries fds 0, 1, 2 and our network namespace as SCM_RIGHTS.
 * Answers, ASCII lines: "run" when the worker starts the call, then "exit N" (the plugin's
 * status); or "fallback" (run the plugin yourself). No "run": nothing ran, run it here. */
#define MAGIC "VFPCNI2\n"
#define MAGIC_LEN 8

extern char **environ;

static void exec_python(int argc, char **argv) {
    char **args = calloc((size_t)argc + 4, sizeof(char *));
    if (args == NULL) {
        perror("vfpnet");
        exit(1);
    }
    args[0] = VFPNET_PYTHON;
    args[1] = "-IS";
    args[2] = VFPNET_LAUNCHER;
    for (int i = 1; i < argc; i++)
        args[i + 2] = argv[i];
    args[argc + 2] = NULL;
    execv(VFPNET_PYTHON, args);
    fprintf(stderr, "vfpnet: cannot run %s: %s\n", VFPNET_PYTHON, strerror(errno));
    if (getenv("CNI_COMMAND") != NULL)
        printf("{\"cniVersion\": \"1.1.0\", \"code\": 999, \"msg\": \"vfpnet: cannot run "
               "its Python interpreter (see stderr)\"}\n");
    exit(1);
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n > *cap) {
        size_t want = (*cap ? *cap * 2 : 16384);
        while (want < *len + n)
            want *= 2;
        char *grown = realloc(*buf, want);
        if (grown == NULL)
            return -1;
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    return 0;
}

/* The request: MAGIC, length, umask NUL, cwd NUL, environment entries NUL. NULL on failure. */
static char *build_request(size_t *out_len) {
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char cwd[4096], mask[8];
    if (getcwd(cwd, sizeof cwd) == NULL)
        strcpy(cwd, "/");
    mode_t old = umask(0);  /* the only way to read it; set back at once (one thread) */
    umask(old);
    snprintf(mask, sizeof mask, "%04o", (unsigned)(old & 0777));
    if (append(&buf, &len, &cap, MAGIC "\0\0\0\0", MAGIC_LEN + 4) < 0 ||
        append(&buf, &len, &cap, mask, strlen(mask) + 1) < 0 ||
        append(&buf, &len, &cap, cwd, strlen(cwd) + 1) < 0)
        goto fail;
    for (char **e = environ; *e != NULL; e++)
        if (append(&buf, &len, &cap, *e, strlen(*e) + 1) < 0)
            goto fail;
    uint32_t body = (uint32_t)(len - MAGIC_LEN - 4);
    buf[MAGIC_LEN] = (char)(body >> 24);
    buf[MAGIC_LEN + 1] = (char)(body >> 16);
    buf[MAGIC_LEN + 2] = (char)(body >> 8);
    buf[MAGIC_LEN + 3] = (char)body;
    *out_len = len;
    return buf;
fail:
    free(buf);
    return NULL;
}

/* -1: not handed over (the caller runs the plugin itself); otherwise the exit status. */
static int call_server(const char *path) {
    struct sockaddr_un addr;
    if (strlen(path) >= sizeof addr.sun_path)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (fd <= 2) {
        /* One of our stdin, stdout, stderr is closed (a descriptor takes the lowest free
         * number): passing "0, 1, 2" would hand the worker this very socket as that
         * stream (a worker reading its own connection waits forever). Run it here, where
         * the plugin meets the closed stream as an exec'd plugin does. */
        close(fd);
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    char *req = build_request(&len);
    if (req == NULL) {
        close(fd);
        return -1;
    }
    /* the worker joins our network namespace: it acts where an exec'd plugin would */
    int netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (netns < 0) {
        free(req);
        close(fd);
        return -1;
    }
    int fds[4] = {0, 1, 2, netns};
    union {
        char buf[CMSG_SPACE(sizeof fds)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {.iov_base = req, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
    ssize_t sent;
    do {
        sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    close(netns);
    if (sent <= 0) {  /* nothing reached the server: safe to run it here */
        free(req);
        close(fd);
        return -1;
    }
    size_t off = (size_t)sent;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {  /* a partial request: the server drops it without running it */
            free(req);
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    free(req);
    /* "run\n" comes before the worker starts the call, then "exit N\n" */
    char answer[64];
    size_t got = 0;
    while (got < sizeof answer - 1) {
        ssize_t n = read(fd, answer + got, sizeof answer - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        answer[got] = '\0';
        if (strstr(answer, "exit ") != NULL && answer[got - 1] == '\n')
            break;
        if (strcmp(answer, "fallback\n") == 0)
            break;
    }
    close(fd);
    answer[got] = '\0';
    char *line = answer;
    if (strncmp(line, "run\n", 4) == 0)
        line += 4;
    else
        return -1;  /* "fallback", or the connection ended before the call started */
    if (strncmp(line, "exit ", 5) == 0) {
        char *end;
        errno = 0;
        long status = strtol(line + 5, &end, 10);
        if (end != line + 5 && errno == 0)
            return (int)(status & 0xff);  /* what exit(status) leaves the parent */
    }
    /* The worker may have run part of the call: running it again here could do it twice. */
    fprintf(stderr, "vfpnet: the CNI server at %s ended the call without a status\n", path);
    printf("{\"cniVersion\": \"1.1.0\", \"code\": 11, \"msg\": \"vfpnet: the CNI server "
           "ended the call without a status; try again\"}\n");
    return 1;
}

int main(int argc, char **argv) {
    const char *command = getenv("CNI_COMMAND");
    if (command != NULL && *command != '\0') {
        const char *path = getenv("VFPNET_CNI_SOCKET");
        if (path == NULL || *path == '\0')
            path = VFPNET_SOCKET;
        if (strcmp(path, "off") != 0) {
            int status = call_server(path);
            if (status >= 0)
                return status;
        }
    }
    exec_python(argc, argv);
    return 1;
}

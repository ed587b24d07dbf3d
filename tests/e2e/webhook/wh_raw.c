/* wh_raw: sends raw bytes to an HTTPS server and reports its answers; the
 * HTTP corpus suite's client (tests/e2e/run-suite-http.sh).  Never shipped.
 *
 *   wh_raw PORT CA_FILE REQUEST_FILE
 *
 * REQUEST_FILE is text: its newlines are ignored (write one field a line)
 * and these escapes make the bytes: \r \n \t \\ \xNN, \R{N}{TEXT} (TEXT,
 * which may hold \r \n \t, N times) and \P (send what is written so far, then pause
 * 200 ms: the server sees separate reads).  After sending, it reads
 * responses (status line, fields, a Content-Length body) until the server
 * closes or is silent for 1.5 s, and prints one line per response,
 * "STATUS FIRST-LINE-OF-BODY", then "close" (the server ended the stream)
 * or "open".  Exit 2 on a usage, connect or TLS error. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "wh_raw: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

static SSL *ssl;
static int fd;

static void send_all(const char *p, size_t n)
{
    while (n) {
        int w = SSL_write(ssl, p, (int)(n > 1 << 20 ? 1 << 20 : n));
        if (w <= 0)
            return; /* the server closed: what it answered is still read */
        p += w;
        n -= (size_t)w;
    }
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Interprets the request file, sending at each \P and at the end. */
static void send_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read the request file");
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    int c;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (n == cap && !(out = realloc(out, cap *= 2)))                                           \
            die("out of memory");                                                                  \
        out[n++] = (char)(ch);                                                                     \
    } while (0)
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n')
            continue;
        if (c != '\\') {
            PUT(c);
            continue;
        }
        c = fgetc(f);
        switch (c) {
        case 'r':
            PUT('\r');
            break;
        case 'n':
            PUT('\n');
            break;
        case 't':
            PUT('\t');
            break;
        case '\\':
            PUT('\\');
            break;
        case 'x': {
            int h = hexv(fgetc(f)), l = hexv(fgetc(f));
            if (h < 0 || l < 0)
                die("bad \\x escape");
            PUT(h * 16 + l);
            break;
        }
        case 'R': {
            long count;
            char text[256];
            size_t tl = 0;
            int ch;
            if (fscanf(f, "{%ld}{", &count) != 1 || count < 0)
                die("bad \\R{N}{TEXT}");
            while ((ch = fgetc(f)) != EOF && ch != '}' && tl < sizeof(text)) {
                if (ch == '\\') {
                    ch = fgetc(f);
                    ch = ch == 'r' ? '\r' : ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
                }
                text[tl++] = (char)ch;
            }
            if (ch != '}')
                die("bad \\R{N}{TEXT}");
            for (long i = 0; i < count; i++)
                for (size_t k = 0; k < tl; k++)
                    PUT(text[k]);
            break;
        }
        case 'P':
            send_all(out, n);
            n = 0;
            usleep(200000);
            break;
        default:
            die("unknown escape");
        }
    }
    send_all(out, n);
    free(out);
    fclose(f);
}

/* Reads into buf until at least want bytes or EOF/silence; returns bytes. */
static size_t fill(char *buf, size_t have, size_t want, size_t cap, int *eof)
{
    while (have < want && have < cap && !*eof) {
        if (SSL_pending(ssl) == 0) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 1500) <= 0)
                return have; /* silent */
        }
        int r = SSL_read(ssl, buf + have, (int)(cap - have));
        if (r <= 0) {
            *eof = 1;
            break;
        }
        have += (size_t)r;
    }
    return have;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        die("usage: wh_raw PORT CA_FILE REQUEST_FILE");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1)
        die("cannot load the CA");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)atoi(argv[1]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        die("cannot connect");
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "dpm-webhook.dpm-system.svc");
    if (SSL_connect(ssl) != 1)
        die("TLS handshake failed");
    send_file(argv[3]);

    size_t cap = 8 << 20, have = 0;
    char *buf = malloc(cap + 1);
    int eof = 0;
    for (;;) {
        /* the head */
        char *end = NULL;
        for (;;) {
            buf[have] = 0;
            end = strstr(buf, "\r\n\r\n");
            if (end)
                break;
            size_t before = have;
            have = fill(buf, have, have + 1, cap, &eof);
            if (have == before)
                break;
        }
        if (!end) {
            if (have)
                printf("garbage %.40s\n", buf);
            break;
        }
        int status = 0;
        if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
            printf("bad-status-line %.40s\n", buf);
        size_t head = (size_t)(end - buf) + 4, clen = 0;
        const char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl && cl < end)
            clen = strtoul(cl + 17, NULL, 10);
        if (status >= 100 && status < 200)
            clen = 0;
        have = fill(buf, have, head + clen, cap, &eof);
        if (have < head + clen) {
            printf("%d <short body>\n", status);
            break;
        }
        char first[200];
        size_t fl = strcspn(buf + head, "\n");
        if (fl > clen)
            fl = clen;
        if (fl >= sizeof(first))
            fl = sizeof(first) - 1;
        memcpy(first, buf + head, fl);
        first[fl] = 0;
        printf("%d %s\n", status, first);
        memmove(buf, buf + head + clen, have - head - clen);
        have -= head + clen;
        if (!have)
            have = fill(buf, 0, 1, cap, &eof);
        if (!have)
            break;
    }
    printf("%s\n", eof ? "close" : "open");
    free(buf);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return 0;
}

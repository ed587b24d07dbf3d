/* The input side of the YAML parser: feeds libyaml from memory or from a
 * FILE in chunks, and maps libyaml's character marks back to byte offsets,
 * lines and columns.  From a FILE only a window of the input is kept: the
 * bytes from the current document's (or List item's) start on, so memory
 * follows the largest document, not the file.  See yaml_private.h. */
#include "yaml_private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

void dpm_yaml_reader_init(struct dpm_yaml_reader *b, const struct dpm_yaml_input *in,
                          const char *source, const struct dpm_load_opts *opts,
                          struct dpm_error *err)
{
    memset(b, 0, sizeof(*b));
    b->in = in;
    b->source = source;
    b->opts = opts;
    b->err = err;
    b->base_line = b->base_col = 1;
    /* A UTF-8 byte-order mark is not content (kubectl drops it too); the
     * parser's explicit UTF-8 encoding would read it as one. */
    if (in->len >= 3 && memcmp(in->data, "\xEF\xBB\xBF", 3) == 0)
        b->in_off = b->base_byte = b->total = b->skipped = 3;
    if (in->f == NULL) {
        b->data = in->data + b->in_off;
        b->len = in->len - b->in_off;
    }
    dpm_buf_init(&b->win, SIZE_MAX);
}

void dpm_yaml_reader_free(struct dpm_yaml_reader *b)
{
    if (!b)
        return;
    dpm_buf_free(&b->win);
    if (b->in && b->in->nread && b->in->f)
        *b->in->nread = b->total;
}

int dpm_yaml_reader_at(const struct dpm_yaml_reader *b, size_t off)
{
    if (off < b->base_byte || off >= b->base_byte + b->len)
        return -1;
    return (unsigned char)b->data[off - b->base_byte];
}

/* Byte offset (absolute) of character index ch, by walking the cursor
 * forwards or backwards over the bytes in memory; clamped to them. */
size_t dpm_yaml_reader_byte(struct dpm_yaml_reader *b, size_t ch)
{
    const unsigned char *d = (const unsigned char *)b->data;
    size_t end = b->base_byte + b->len;
    if (b->cur_byte < b->base_byte) {
        b->cur_byte = b->base_byte;
        b->cur_ch = b->base_ch;
    }
    while (b->cur_ch < ch && b->cur_byte < end) {
        b->cur_byte++;
        while (b->cur_byte < end && (d[b->cur_byte - b->base_byte] & 0xC0) == 0x80)
            b->cur_byte++;
        b->cur_ch++;
    }
    while (b->cur_ch > ch && b->cur_byte > b->base_byte) {
        b->cur_byte--;
        while (b->cur_byte > b->base_byte && (d[b->cur_byte - b->base_byte] & 0xC0) == 0x80)
            b->cur_byte--;
        b->cur_ch--;
    }
    return b->cur_byte;
}

/* Line and column of absolute byte offset off (within the window). */
void dpm_yaml_reader_position(const struct dpm_yaml_reader *b, size_t off, int *line, int *col)
{
    int l = b->base_line, c = b->base_col;
    for (size_t i = b->base_byte; i < off && i < b->base_byte + b->len; i++) {
        unsigned char ch = (unsigned char)b->data[i - b->base_byte];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Drops the window's bytes before absolute offset off (a document start),
 * when that frees enough to be worth the move. */
void dpm_yaml_reader_trim(struct dpm_yaml_reader *b, size_t off)
{
    if (b->in->f == NULL || off <= b->base_byte)
        return;
    size_t drop = off - b->base_byte;
    if (drop > b->len)
        drop = b->len;
    if (drop < 65536 && drop * 2 < b->len)
        return;
    int line, col;
    dpm_yaml_reader_position(b, b->base_byte + drop, &line, &col);
    /* the cursor sits on a character start at or after off when called at
     * a document start; re-anchor it at the new base otherwise */
    size_t ch = b->base_ch;
    for (size_t i = 0; i < drop; i++)
        if (((unsigned char)b->data[i] & 0xC0) != 0x80)
            ch++;
    memmove(b->win.data, b->win.data + drop, b->len - drop);
    b->win.len -= drop;
    b->len = b->win.len;
    b->data = b->win.data;
    b->base_byte += drop;
    b->base_ch = ch;
    b->base_line = line;
    b->base_col = col;
    b->cur_byte = b->base_byte;
    b->cur_ch = b->base_ch;
}

/* libyaml's read handler: the prefix (bytes already taken off the stream
 * to sniff JSON), then the FILE; each chunk also goes to the window. */
int dpm_yaml_reader_read(void *data, unsigned char *buffer, size_t size, size_t *size_read)
{
    struct dpm_yaml_reader *b = data;
    const struct dpm_yaml_input *in = b->in;
    size_t n = 0;
    *size_read = 0;
    if (in->f == NULL) {
        n = in->len - b->in_off < size ? in->len - b->in_off : size;
        memcpy(buffer, in->data + b->in_off, n);
        b->in_off += n;
        *size_read = n;
        return 1;
    }
    if (b->in_off < in->len) {
        n = in->len - b->in_off < size ? in->len - b->in_off : size;
        memcpy(buffer, in->data + b->in_off, n);
        b->in_off += n;
    } else {
        n = fread(buffer, 1, size, in->f);
        if (n == 0 && ferror(in->f)) {
            b->read_rc = dpm_error_set(b->err, DPM_EIO, NULL, "cannot read %s: %s", b->source,
                                       strerror(errno));
            dpm_error_at(b->err, b->source, 0, 0);
            return 0;
        }
    }
    if (n && b->total + n > b->opts->max_input_bytes) {
        b->read_rc =
            dpm_error_set(b->err, DPM_ELIMIT, NULL, "input is larger than %zu bytes in total",
                          b->opts->max_input_bytes);
        dpm_error_at(b->err, b->source, 0, 0);
        return 0;
    }
    /* a document, with libyaml's read-ahead, must fit the window */
    if (n && b->win.len + n > b->opts->max_doc_bytes + 4 * size + 65536) {
        b->read_rc =
            dpm_error_set(b->err, DPM_ELIMIT, NULL, "document %zu is larger than %zu bytes",
                          b->doc_no ? b->doc_no : 1, b->opts->max_doc_bytes);
        dpm_error_at(b->err, b->source, b->doc_no ? b->doc_line : 1, 1);
        return 0;
    }
    if (n && dpm_buf_add(&b->win, (const char *)buffer, n)) {
        b->read_rc = dpm_error_set(b->err, DPM_ENOMEM, NULL, "out of memory");
        return 0;
    }
    b->total += n;
    b->data = b->win.data;
    b->len = b->win.len;
    *size_read = n;
    return 1;
}

void dpm_yaml_offset_position(const char *data, size_t len, size_t off, int *line, int *column)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *column = c;
}

bool dpm_yaml_reader_error(struct dpm_yaml_reader *b, const yaml_parser_t *p, char *msg, size_t n,
                           const yaml_mark_t **mark, dpm_rc *rc)
{
    *mark = NULL;
    *rc = DPM_EPARSE;
    if (p->error == YAML_MEMORY_ERROR) {
        *rc = DPM_ENOMEM;
        snprintf(msg, n, "out of memory");
        return false;
    }
    if (p->error == YAML_READER_ERROR && b->read_rc) {
        *rc = b->read_rc; /* err set by the read handler */
        return true;
    }
    if (p->error == YAML_READER_ERROR) {
        /* libyaml counts the bytes it was fed, after a skipped BOM */
        size_t off = p->problem_offset + b->skipped;
        int line, col;
        dpm_yaml_reader_position(b, off, &line, &col);
        if (p->problem_value >= 0)
            dpm_error_set(b->err, DPM_EPARSE, NULL, "invalid UTF-8: %s 0x%02x at byte %zu",
                          p->problem ? p->problem : "bad input", (unsigned)p->problem_value, off);
        else
            dpm_error_set(b->err, DPM_EPARSE, NULL, "invalid input: %s at byte %zu",
                          p->problem ? p->problem : "bad input", off);
        dpm_error_at(b->err, b->source, line, col);
        return true;
    }
    const char *problem = p->problem ? p->problem : "malformed YAML";
    const yaml_mark_t *pm = &p->problem_mark;
    size_t off = dpm_yaml_reader_byte(b, pm->index);
    if (strcmp(problem, "found character that cannot start any token") == 0 &&
        dpm_yaml_reader_at(b, off) == '\t')
        problem = "found a tab character where indentation is expected (YAML forbids tabs for "
                  "indentation)";
    *mark = pm;
    if (p->context && (p->context_mark.line != pm->line || p->context_mark.column != pm->column))
        snprintf(msg, n, "%s (%s at line %zu, column %zu)", problem, p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
    else if (p->context)
        snprintf(msg, n, "%s (%s)", problem, p->context);
    else
        snprintf(msg, n, "%s", problem);
    return false;
}

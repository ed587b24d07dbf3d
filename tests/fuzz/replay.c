/* Replays inputs through one fuzz target without libFuzzer, so that the
 * checked-in corpora (tests/fuzz/corpus/<target>/) guard every build, gcc
 * and ASan+UBSan alike (tests/fuzz/run-suite.sh).  Linked with one
 * tests/fuzz/fuzz_<name>.c, it hands each FILE to the target's
 * LLVMFuzzerTestOneInput once, in order, in a buffer of exactly the file's
 * size as libFuzzer does (so a read past the input is caught by ASan);
 * /dev/null is the empty input.
 *
 * A target states its invariants with abort(): a broken one ends this
 * process with SIGABRT, as a crash would.
 *   BUILD/fuzz-replay/fuzz_<name> FILE...
 * Exit status: 0 when every input ran, 1 when a file cannot be read. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole file in a buffer of its size (glibc's and ASan's malloc(0) give
 * a block of none); false with a message on stderr when it cannot be read. */
static bool slurp(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    long n = -1;
    *data = NULL;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    if (!(*data = malloc((size_t)n)))
        goto fail;
    if (fread(*data, 1, (size_t)n, f) != (size_t)n)
        goto fail;
    fclose(f);
    *size = (size_t)n;
    return true;
fail:
    fprintf(stderr, "%s: cannot read the input\n", path);
    free(*data);
    *data = NULL;
    if (f)
        fclose(f);
    return false;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        uint8_t *data;
        size_t size;
        if (!slurp(argv[i], &data, &size))
            return 1;
        LLVMFuzzerTestOneInput(data, size);
        free(data);
    }
    return 0;
}

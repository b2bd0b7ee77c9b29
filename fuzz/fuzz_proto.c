/*
 * fuzz_proto.c -- a fuzz target for the wire protocol's decoders
 * (net/proto.c). The first byte picks the frame kind (even: text, odd:
 * binary); the rest is the frame. A message that decodes must encode
 * again and decode to the same type: the decoder never accepts what the
 * encoder would refuse.
 *
 *   make fuzz                     libFuzzer build (clang) and a 60 s run
 *   build/fuzz/replay_proto FILE  one input, any compiler (make check runs
 *                                 the whole corpus through it)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum rp_proto_error code;
    char *why = NULL;

    if (size == 0)
        return 0;
    if (data[0] % 2 == 0) {
        rp_msg m;
        if (rp__msg_decode(data + 1, size - 1, 1 << 20, &m, &code, &why) == RP_OK) {
            char *text, *why2 = NULL;
            size_t len;
            rp_msg again;
            if (rp__msg_encode(cJSON_Duplicate(m.json, true), &text, &len, &why2) != RP_OK)
                abort();            /* decoded, yet the encoder refuses it */
            if (rp__msg_decode(text, len, 1 << 20, &again, &code, &why2) != RP_OK ||
                again.type != m.type)
                abort();
            rp__msg_free(&again);
            free(text);
            rp__msg_free(&m);
        } else if (why == NULL || code == RP_PROTO_OK) {
            abort();                /* every refusal says why */
        }
    } else {
        struct rp_chunk c;
        if (rp__chunk_decode(data + 1, size - 1, 1 << 20, &c, &code, &why) == RP_OK) {
            unsigned char header[RP_PROTO_CHUNK_HEADER];
            rp__chunk_header(&c, header);
            for (size_t i = 0; i < RP_PROTO_CHUNK_HEADER; i++)
                if (header[i] != data[1 + i])
                    abort();        /* the header does not round-trip */
        } else if (why == NULL || code == RP_PROTO_OK) {
            abort();
        }
    }
    free(why);
    return 0;
}

#ifndef RP_LIBFUZZER
/* Without libFuzzer: run each file named on the command line once. */
int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        unsigned char *buf;
        long n;

        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
            fseek(f, 0, SEEK_SET) != 0) {
            fprintf(stderr, "replay_proto: cannot read %s\n", argv[i]);
            return 1;
        }
        buf = malloc((size_t)n + 1);
        if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
            fprintf(stderr, "replay_proto: cannot read %s\n", argv[i]);
            return 1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
    }
    printf("replay_proto: %d inputs, no failure\n", argc - 1);
    return 0;
}
#endif

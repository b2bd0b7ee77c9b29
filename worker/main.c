/* repartir-worker: see net/worker.c and docs/remote.md. */
#include "net/worker.h"

int
main(int argc, char **argv)
{
    return rp_worker_main(argc, argv);
}

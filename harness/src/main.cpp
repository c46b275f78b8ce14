#include "ipctorture/cli.hpp"

int main(int argc, char** argv) {
    return ipct::cli_main(argc, argv);
}

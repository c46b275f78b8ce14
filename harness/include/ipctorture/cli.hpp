// The command line.  Exit status: 0 pass; 1 findings; 2 usage or scenario
// error; 3 environment or harness error; 128+N when stopped by signal N.
#pragma once

namespace ipct {
int cli_main(int argc, char** argv);
}

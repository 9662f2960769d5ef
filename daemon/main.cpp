#include "cli.hpp"

int main(int argc, char** argv) { return loopgate::run_cli(argc, argv); }

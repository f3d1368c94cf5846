// `clipmatch train --nproc N`: the program starts itself N times as the ranks of one distributed run on this
// machine, with the environment an external launcher (torchrun, SLURM) would set, and supervises them.
#include "commands.hpp"

#include <clipmatch/error.hpp>

#include <fmt/format.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace clipmatch::cli {

namespace {

std::vector<std::string>& command_line() {
  static std::vector<std::string> arguments;
  return arguments;
}

/// A loopback TCP port free right now (the kernel's pick for port 0), for rank 0's store.
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(ErrorKind::Io, std::string("--nproc: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) throw Error(ErrorKind::Io, "--nproc: cannot find a free loopback port for the ranks to meet on");
  return ntohs(address.sin_port);
}

/// This program's arguments without `--nproc N` / `--nproc=N`.
std::vector<std::string> arguments_for_ranks() {
  std::vector<std::string> out;
  const auto& all = command_line();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "--nproc") {
      ++i;
      continue;
    }
    if (all[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(all[i]);
  }
  return out;
}

volatile std::sig_atomic_t forwarded_signal = 0;

void remember_signal(int signal) { forwarded_signal = signal; }

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "stopped";
}

}  // namespace

void set_command_line(int argc, char** argv) { command_line().assign(argv, argv + argc); }

void launch_local_ranks(int nproc) {
  if (nproc < 2) throw Error(ErrorKind::InvalidArgument, fmt::format("--nproc {}: at least 2 ranks", nproc));
  const char* world = std::getenv("WORLD_SIZE");
  if (world != nullptr && *world != '\0') {
    throw Error(ErrorKind::InvalidArgument, "--nproc: WORLD_SIZE is already set, so an external launcher started "
                                            "this process; leave out --nproc");
  }
  const int port = free_loopback_port();
  const auto arguments = arguments_for_ranks();
  // SIGINT / SIGTERM to the launcher (Ctrl-C, a scheduler) go on to the ranks, which then stop as the launcher
  // would; a launcher killed outright takes them with it (PR_SET_PDEATHSIG).
  struct sigaction action {};
  action.sa_handler = remember_signal;  // no SA_RESTART: waitpid returns with EINTR
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  const pid_t launcher = ::getpid();
  std::vector<pid_t> ranks;
  std::vector<bool> alive;
  const auto stop_alive = [&](int signal) {
    for (std::size_t r = 0; r < ranks.size(); ++r) {
      if (alive[r]) ::kill(ranks[r], signal);
    }
  };
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int error = errno;
      stop_alive(SIGTERM);
      for (const pid_t started : ranks) ::waitpid(started, nullptr, 0);
      throw Error(ErrorKind::Io, std::string("--nproc: cannot start a rank: ") + std::strerror(error));
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(1);  // the launcher died before prctl took effect
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "clipmatch: rank %d: cannot start /proc/self/exe: %s\n", rank, std::strerror(errno));
      ::_exit(127);
    }
    ranks.push_back(pid);
    alive.push_back(true);
  }
  // Wait for every rank. The first failure stops the others (they would fail on their own within the
  // collective timeout, but a rank still filling the feature cache would not notice for a long time).
  std::string failure;
  std::size_t running = ranks.size();
  int forwarded = 0;
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno != EINTR) break;
      if (forwarded_signal != 0 && forwarded == 0) {
        forwarded = forwarded_signal;
        stop_alive(forwarded);
      }
      continue;
    }
    std::size_t r = 0;
    while (r < ranks.size() && ranks[r] != pid) ++r;
    if (r == ranks.size()) continue;  // not a rank
    alive[r] = false;
    --running;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok || !failure.empty()) continue;
    failure = fmt::format("rank {} of {} {}", r, nproc, describe(status));
    stop_alive(SIGTERM);
  }
  if (forwarded != 0) {
    throw Error(ErrorKind::Cancelled, fmt::format("distributed training stopped by signal {} ({}), passed on to the "
                                                  "ranks", forwarded, strsignal(forwarded)));
  }
  if (!failure.empty()) {
    throw Error(ErrorKind::Io, fmt::format("distributed training failed: {}; the other ranks were stopped", failure));
  }
}

}  // namespace clipmatch::cli

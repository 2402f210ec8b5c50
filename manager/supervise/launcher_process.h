// The launcher process's side (see launcher.h): the loop that starts,
// watches and stops children as the manager asks. Internal to
// manager/supervise.

#ifndef MANAGER_SUPERVISE_LAUNCHER_PROCESS_H_
#define MANAGER_SUPERVISE_LAUNCHER_PROCESS_H_

namespace milter::manager::launcher_internal {

// Serves requests on `fd` (the launcher's end of the socketpair) until it
// reaches end of file and every child is gone, then exits the process.
// Call right after fork(), in the new process.
[[noreturn]] void RunLauncherProcess(int fd);

}  // namespace milter::manager::launcher_internal

#endif  // MANAGER_SUPERVISE_LAUNCHER_PROCESS_H_

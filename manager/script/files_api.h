// Reading list files from scripts: Milter.read_lines and Milter.read_set
// (docs/scripting.md), for policies kept in plain files (a blocklist of
// sender domains, trusted networks) that operators edit without touching
// the script.
//
// Contract:
//   * A relative path is relative to the directory of the script file
//     calling it.
//   * The file is read once and cached per Engine (per thread); it is
//     re-stat()ed at most once a second and read again when its mtime,
//     size or inode changed. Lines are stripped of surrounding white space;
//     empty lines and lines starting with '#' are left out.
//   * read_lines returns a frozen Array of Strings, read_set a frozen Hash
//     of line => true (for `set.key?(x)` lookups in constant time); both are
//     the cached objects, so a call costs a hash lookup.
//   * Files over 64 MiB, unreadable or missing files, and paths that are not
//     regular files (devices, FIFOs, directories) raise IOError naming the
//     path and the reason; a file that goes away after it was read keeps
//     its last contents. Only files read successfully are cached, so paths
//     that fail (e.g. made from client data) cost no memory afterwards.

#ifndef MANAGER_SCRIPT_FILES_API_H_
#define MANAGER_SCRIPT_FILES_API_H_

struct mrb_state;

namespace milter::manager::script {

// Defines Milter.read_lines and Milter.read_set in `mrb`.
void InstallFilesApi(mrb_state* mrb);

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_FILES_API_H_

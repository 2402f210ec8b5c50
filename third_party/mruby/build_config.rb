# mruby build configuration for the manager's scripting engine, used by
# scripts/build-mruby.sh on Debian's mruby source package.
#
# Differences from Debian's libmruby-dev: the VM is built with
# MRB_USE_DEBUG_HOOK, so the engine can install a code-fetch hook that stops a
# script past its deadline; gems that reach outside the process (IO, sockets,
# sleep) are left out, since a policy script must neither block nor touch files.
MRuby::Build.new do |conf|
  conf.toolchain :gcc

  conf.gembox 'stdlib'       # pack, sprintf, time, struct, random
  conf.gembox 'stdlib-ext'   # String/Array/Hash/... extensions, fiber, enumerator
  conf.gembox 'math'
  conf.gembox 'metaprog'
  conf.gem core: 'mruby-compiler'  # compiling scripts at run time
  conf.gem core: 'mruby-bin-mrbc'

  conf.cc.defines << 'MRB_USE_DEBUG_HOOK'
  conf.cc.flags << '-O2' << '-fPIC' << '-g'
  conf.enable_debug_info = true if conf.respond_to?(:enable_debug_info=)
end

# Pmilter-style handler set (one file per stage, its top-level code run on
# every call): the layout and API of Pmilter's mruby_*_handler files, run
# unchanged by the manager (see milter-manager.conf here).
s = Pmilter::Session.new
puts "connect: #{s.client_hostname} [#{s.client_ipaddr}] via #{s.client_daemon}"

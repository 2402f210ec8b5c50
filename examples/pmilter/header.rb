puts "header: #{Pmilter::Session::Headers.new.header}"

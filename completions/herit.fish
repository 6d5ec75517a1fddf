function _herit_completion;
    set -l lines (env _HERIT_COMPLETE=fish_complete COMP_WORDS=(commandline -cp) COMP_CWORD=(commandline -t) herit);
    for line in $lines;
        set -l parts (string split --max 1 ',' -- $line);
        switch $parts[1];
            case plain;
                printf '%s\n' $parts[2];
            case file;
                __fish_complete_path $parts[2];
            case dir;
                __fish_complete_directories $parts[2];
        end;
    end;
end;

complete --no-files --command herit --arguments "(_herit_completion)";

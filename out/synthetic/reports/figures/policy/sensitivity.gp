# Rendered by the pipeline; re-render with: gnuplot sensitivity.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "sensitivity.png"
set encoding utf8
set title "Best share of customers to contact, by margin and cost per contact"
set xlabel "margin"
set ylabel "cost per contact"
set cblabel "best share contacted"
set palette defined (0 "#f7fbff", 0.5 "#6baed6", 1 "#08306b")
set cbrange [0:1]
set style fill solid 1.0 noborder
set offsets 0.024999999999999994, 0.024999999999999994, 0.19999999999999996, 0.19999999999999996
plot 'sensitivity.dat' using 1:2:(0.024999999999999994):(0.19999999999999996):3 with boxxyerror fc palette notitle, \
     '' using 1:2:(sprintf("%.0f%%", $3*100)) with labels tc rgb "#C44E52" notitle
unset output

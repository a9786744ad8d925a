# Rendered by the pipeline; re-render with: gnuplot tracking.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "tracking.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set linetype 7 lc rgb "#DA8BC3"
set linetype 8 lc rgb "#8C8C8C"
set title "Cumulative repeat transactions of the calibration customers (week 1 starts 2024-01-01)"
set xlabel "week"
set ylabel "cumulative repeat transactions"
set key top left
set grid
set arrow from 66, graph 0 to 66, graph 1 nohead dt 3 lc rgb "gray30"
set label "holdout starts" at 66, graph 0.95 offset 0.5,0
plot 'tracking.dat' using 1:2 with lines lw 2 lt 1 title "actual", \
     '' using 1:3 with lines lw 2 dt 2 lt 2 title "BG/NBD", \
     '' using 1:4 with lines lw 2 dt 2 lt 3 title "Pareto/NBD"
unset output

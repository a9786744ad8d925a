# Rendered by the pipeline; re-render with: gnuplot calibration.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "calibration.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set linetype 7 lc rgb "#DA8BC3"
set linetype 8 lc rgb "#8C8C8C"
set title "Mean holdout transactions by calibration-period frequency"
set xlabel "repeat transactions in calibration"
set ylabel "mean transactions in the holdout"
set key top left
set grid
plot 'calibration.dat' using 1:3:xtic(2) with linespoints lw 2 pt 7 lt 1 title "actual", \
     '' using 1:4 with linespoints lw 2 pt 5 dt 2 lt 2 title "BG/NBD", \
     '' using 1:5 with linespoints lw 2 pt 5 dt 2 lt 3 title "Pareto/NBD"
unset output

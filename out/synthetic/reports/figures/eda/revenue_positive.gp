# Rendered by the pipeline; re-render with: gnuplot revenue_positive.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "revenue_positive.png"
set encoding utf8
set linetype 1 lc rgb "#4C72B0"
set linetype 2 lc rgb "#DD8452"
set linetype 3 lc rgb "#55A868"
set linetype 4 lc rgb "#C44E52"
set linetype 5 lc rgb "#8172B3"
set linetype 6 lc rgb "#937860"
set title "Distribution of Revenue where it is positive, per arm"
set xlabel "Revenue"
set ylabel "share of positive rows (%)"
set logscale y
set grid
set key top right
plot 'revenue_positive.dat' index 0 using 1:2 with histeps lw 2 lt 1 title "control", \
     'revenue_positive.dat' index 1 using 1:2 with histeps lw 2 lt 2 title "discount", \
     'revenue_positive.dat' index 2 using 1:2 with histeps lw 2 lt 3 title "free_shipping"
unset output
